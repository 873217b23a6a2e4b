#!/usr/bin/env python3
"""layers.py BUILD_DIR - check the layering of sandlua's objects.

Reads the layers and what each may use from the Makefile (LAYERS, USES_x),
then every object under BUILD_DIR/<layer>/ with nm, and reports:
  - a reference from a file of one layer to a symbol defined in a layer it
    does not use;
  - a cycle between files (two or more files that reach each other);
  - a global symbol that no other file references (an export nothing needs;
    make it static, or delete it), unless a unit test or a tool uses it.
Exit 0 when clean; otherwise one line per finding and exit 1.
"""
import collections
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def makefile_layers():
    text = (ROOT / "Makefile").read_text()
    layers = re.search(r"^LAYERS\s*=\s*(.*)$", text, re.M).group(1).split()
    uses = {}
    for name in layers:
        m = re.search(rf"^USES_{name}\s*=\s*(.*)$", text, re.M)
        uses[name] = set(m.group(1).split())
    return layers, uses


def symbols(obj):
    """(defined globals, undefined) of one object file."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True,
                         check=True).stdout
    defs, undefs = set(), set()
    for line in out.splitlines():
        p = line.split()
        if len(p) == 2 and p[0] == "U":
            undefs.add(p[1])
        elif len(p) == 3 and p[1] in "TDBRCGSV" and \
                not p[2].startswith("__odr_asan"):  # the sanitizer's own
            defs.add(p[2])
    return defs, undefs


def graph(build):
    layers, uses = makefile_layers()
    files = {}
    for layer in layers:
        for obj in sorted((build / layer).rglob("*.o")):
            rel = obj.relative_to(build).with_suffix("")
            if (ROOT / rel).with_suffix(".c").exists():  # not a stale one
                files[str(rel)] = symbols(str(obj))
    owner = {}
    for name, (defs, _) in files.items():
        for s in defs:
            owner[s] = name
    edges = collections.defaultdict(dict)
    for name, (_, undefs) in files.items():
        for s in undefs:
            if s in owner and owner[s] != name:
                edges[name].setdefault(owner[s], []).append(s)
    return layers, uses, files, owner, edges


def cycles(nodes, edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def used_outside():
    """Identifiers in the sources of the tests, fuzzers and benchmarks."""
    used = set()
    for d in ("tests", "bench"):
        for src in (ROOT / d).rglob("*.c"):
            used |= set(re.findall(r"\b[A-Za-z_]\w*\b", src.read_text()))
    return used


def findings(build):
    layers, uses, files, owner, edges = graph(build)
    out = []
    for src in sorted(edges):
        for dst, syms in sorted(edges[src].items()):
            a, b = src.split("/")[0], dst.split("/")[0]
            if b not in uses[a]:
                out.append(f"layer: {src} ({a}) calls {dst} ({b}): "
                           f"{', '.join(sorted(syms)[:4])}")
    for comp in cycles(files, edges):
        out.append("cycle: " + " <-> ".join(comp))
    referenced = {s for _, (_, u) in files.items() for s in u}
    referenced |= used_outside()
    for s, name in sorted(owner.items(), key=lambda x: (x[1], x[0])):
        if s in referenced or s == "main" or s.startswith("luaopen_"):
            continue
        out.append(f"unused export: {name}: {s}")
    return out


def main():
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    if not build.is_absolute():
        build = ROOT / build
    out = findings(build)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
