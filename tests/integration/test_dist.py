"""Distribution: man pages, LuaLS stubs, the systemd unit, make install.

The Debian and RPM packages are tested in test_packaging.py.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAN = ROOT / "packaging" / "man"
PAGES = [MAN / "sandlua.1", MAN / "sandlua-policy.5"]
TYPES = ROOT / "stdlib" / "types"
UNIT = ROOT / "packaging" / "systemd" / "sandlua@.service"
B = os.environ.get("B", "build")


def version():
    h = (ROOT / "interp" / "interp.h").read_text()
    return re.search(r'#define INTERP_VERSION "([^"]+)"', h).group(1)


def sh(*args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(list(args), **kw)


# ---------------------------------------------------------------- man pages

@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_groff_has_no_warning(page):
    p = sh("groff", "-ww", "-z", "-man", str(page))
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", p.stderr


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_renders_with_man_l(page):
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat",
               LC_ALL="C.UTF-8")
    p = sh("man", "--warnings", "-l", str(page), env=env)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", p.stderr
    for section in ("NAME", "DESCRIPTION", "SEE ALSO"):
        assert "\n" + section + "\n" in p.stdout


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_page_mandoc_lint(page):
    if not shutil.which("mandoc"):
        pytest.skip("mandoc is not installed (scripts/deps.sh installs it)")
    p = sh("mandoc", "-Tlint", "-W", "warning", str(page))
    assert p.returncode == 0 and p.stdout == "" and p.stderr == "", \
        p.stdout + p.stderr


def roff_option(name):
    return name.replace("-", "\\-")


def test_man_documents_every_long_option():
    main = (ROOT / "interp" / "main.c").read_text()
    table = main[main.index("longopts[]"):]
    table = table[:table.index("};")]
    names = re.findall(r'\{\s*"(--[a-z0-9-]+)"', table)
    assert "--help" in names and "--version" in names
    # the limits' options come from the table of common/limits_table.h
    assert "SL_LIMITS(" in table
    limits = (ROOT / "common" / "limits_table.h").read_text()
    limits = limits[limits.index("#define SL_LIMITS(XX)"):]
    limits = limits[:limits.index("\n\n")]
    options = re.findall(r'XX\(\w+,\s*"[a-z]+",\s*"(--[a-z0-9-]+)"', limits)
    assert "--memory-limit" in options and "--max-output" in options
    names += options
    page = (MAN / "sandlua.1").read_text()
    missing = [n for n in names if roff_option(n) not in page]
    assert not missing, f"sandlua.1 does not document {missing}"


def man_section(page, title):
    text = page.read_text()
    start = text.index(f".SH {title}\n")
    end = text.find("\n.SH ", start + 1)
    return text[start:end]


def test_man_documents_every_exit_code():
    h = (ROOT / "common" / "exitcodes.h").read_text()
    codes = re.findall(r"XX\([A-Z_]+, (\d+)\)", h)
    assert "0" in codes and "9" in codes
    section = man_section(MAN / "sandlua.1", "EXIT STATUS")
    missing = [c for c in codes if f".TP\n.B {c}\n" not in section]
    assert not missing, f"EXIT STATUS lacks codes {missing}"


def test_man_pages_carry_the_version():
    for page in PAGES:
        th = next(l for l in page.read_text().splitlines()
                  if l.startswith(".TH "))
        assert f'"sandlua {version()}"' in th, (page.name, th)


def test_man_pages_name_the_cases_format_and_policy_keys():
    # A user reading only the man pages can write a policy and test it.
    p5 = (MAN / "sandlua-policy.5").read_text()
    for needle in (".SH TEST CASES", ".SH URL MATCHING", ".SH EVALUATION",
                   "kind: security.policy", "expect: deny", "cidr",
                   "value_from", "strict"):
        assert needle in p5, needle
    p1 = (MAN / "sandlua.1").read_text()
    for needle in (".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES",
                   ".SH EXAMPLES", ".SH SECURITY", "SSL_CERT_FILE",
                   "SSL_CERT_DIR", "LUA_INIT", "policy test"):
        assert needle in p1, needle


# ---------------------------------------------------------------- stubs

STUBS = sorted(TYPES.glob("*.d.lua"))

# What the reference APIs (shared docs, DESIGN.md) define: each must have an
# annotated definition.  "Class:method" for methods, "lib.name" otherwise.
REQUIRED = {
    "errors": ["errors.new", "errors.wrap", "errors.is", "Error:kind",
               "Error:message", "Error:retryable", "Error:details",
               "Error:stack"],
    "json": ["json.encode", "json.decode"],
    "channel": ["channel.new", "channel.select", "Channel:send",
                "Channel:receive", "Channel:close", "Channel:case_send",
                "Channel:case_receive", "Channel:len", "Channel:cap"],
    "coroutine": ["coroutine.spawn"],
    "time": ["time.sleep", "time.after", "time.timer", "time.ticker",
             "time.now", "time.parse_duration", "Duration:hours",
             "Duration:minutes", "Duration:seconds", "Duration:milliseconds",
             "Duration:microseconds", "Duration:nanoseconds", "Time:unix",
             "Time:unix_nano", "Time:sub", "Time:add",
             "Time:format_rfc3339", "Timer:channel", "Timer:response",
             "Timer:stop", "Timer:reset", "Ticker:channel",
             "Ticker:response", "Ticker:stop", "Ticker:reset"],
    "websocket": ["websocket.connect", "Client:send", "Client:ping",
                  "Client:channel", "Client:receive", "Client:close"],
    "security": ["security.can", "security.actor"],
}


def stub_functions(path):
    """{name: (params, annotation lines)} for each `function name(...)`."""
    lines = path.read_text().splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.match(r"function ([\w.:]+)\(([^)]*)\) end$", line)
        if not m:
            continue
        j = i
        while j > 0 and lines[j - 1].startswith("---"):
            j -= 1
        params = [p.strip() for p in m.group(2).split(",") if p.strip()]
        out[m.group(1)] = (params, lines[j:i])
    return out


def test_a_stub_for_every_module():
    assert sorted(p.name for p in STUBS) == sorted(
        f"{m}.d.lua" for m in REQUIRED)


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: p.name)
def test_stub_is_a_definition_file_that_lua_compiles(stub):
    assert stub.read_text().startswith("---@meta")
    p = sh("luac5.4", "-p", str(stub))
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: p.name)
def test_stub_runs_in_lua(lua54, stub):
    # Each stub is plain Lua: run it against empty tables standing for the
    # globals it extends; a module stub returns its table of functions.
    name = stub.name[:-len(".d.lua")]
    prog = f"""
    local env = setmetatable({{coroutine = {{}}}}, {{__index = _G}})
    local f = assert(loadfile({str(stub)!r}, "t", env))
    local r = f()
    local t = r or env.coroutine
    local n = 0
    for k, v in pairs(t) do assert(type(v) == "function", k); n = n + 1 end
    assert(n > 0, "no function defined")
    print(n)
    """
    p = sh(lua54, "-e", prog)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) == len([f for f in REQUIRED[name]
                                 if f.startswith(name + ".")])


@pytest.mark.parametrize("module", sorted(REQUIRED))
def test_stub_annotates_every_reference_function(module):
    funcs = stub_functions(TYPES / f"{module}.d.lua")
    for want in REQUIRED[module]:
        assert want in funcs, f"{module}.d.lua lacks {want}"
    for name, (params, notes) in funcs.items():
        assert notes, f"{name} has no annotation"
        text = "\n".join(notes)
        for p in params:
            pname = "..." if p == "..." else p
            assert f"---@param {pname}" in text, f"{name}: @param {p}"
        assert not any(l.startswith("---@param") and
                       l.split()[1].rstrip("?") not in params
                       for l in notes), name


def lib_fields(path):
    """Top-level names a module stub declares: functions and @field lines of
    its `---@class <x>lib` block, with literal types kept for checking."""
    text = path.read_text()
    names = {}
    m = re.search(r"---@class \w+lib\n((?:---@field .*\n)*)", text)
    for line in (m.group(1).splitlines() if m else []):
        _, fname, ftype = line.split(" ", 2)
        names[fname] = ftype.split()[0]
    meta = re.match(r"---@meta (\w+)", text).group(1)
    for f in stub_functions(path):
        if f.startswith(meta + "."):
            names[f.split(".", 1)[1]] = "function"
    return meta, names


@pytest.mark.parametrize("stub", [s for s in STUBS
                                  if not s.read_text().startswith(
                                      "---@meta _")],
                         ids=lambda p: p.name)
def test_stub_matches_the_built_module(sandlua, stub):
    """When the interpreter has the module, the stub names exactly its
    fields, and literal-typed constants have the stub's value."""
    meta, fields = lib_fields(stub)
    prog = f"""
    local ok, m = pcall(require, {meta!r})
    if not ok then print("ABSENT") return end
    for k, v in pairs(m) do
      print(k, type(v), (type(v) == "string" or math.type(v) == "integer")
                        and v or "")
    end
    """
    p = sh(sandlua, "-e", prog)
    assert p.returncode == 0, p.stderr
    if p.stdout.strip() == "ABSENT":
        pytest.skip(f"the interpreter has no {meta} module yet")
    real = {}
    for line in p.stdout.splitlines():
        k, t, v = line.split("\t")
        real[k] = (t, v)
    assert sorted(real) == sorted(fields), f"{stub.name} vs {meta}"
    for k, ftype in fields.items():
        lit = re.fullmatch(r'"(.*)"|(-?\d+)', ftype)
        if lit:
            assert real[k][1] == (lit.group(1) or lit.group(2)), k


# Objects the interpreter can make without the network: their methods must
# be exactly the stub's (the class name is the metatable's __name).
OBJECTS = {
    "sandlua.Error": 'errors.new("x")',
    "sandlua.Channel": "channel.new(1)",
    "sandlua.Duration": 'time.parse_duration("1s")',
    "sandlua.Time": "time.now()",
    "sandlua.Timer": 'time.timer("1h")',
    "sandlua.Ticker": 'time.ticker("1h")',
}


def stub_classes():
    """{class name: set of method names} over all stubs."""
    out = {}
    for stub in STUBS:
        text = stub.read_text()
        local = dict((l, c) for c, l in re.findall(
            r"^---@class ([\w.]+)\nlocal (\w+) = \{\}$", text, re.M))
        for f in stub_functions(stub):
            if ":" in f:
                obj, meth = f.split(":")
                out.setdefault(local[obj], set()).add(meth)
    return out


@pytest.mark.parametrize("cls", sorted(OBJECTS))
def test_stub_methods_match_the_built_objects(sandlua, cls):
    prog = f"""
    local ok, o = pcall(function() return {OBJECTS[cls]} end)
    if not ok or o == nil then print("ABSENT") return end
    local mt = (debug and debug.getmetatable or getmetatable)(o)
    print(mt.__name)
    for k, v in pairs(type(mt.__index) == "table" and mt.__index or mt) do
      if type(v) == "function" and not k:match("^__") then print(k) end
    end
    if o.stop then o:stop() end
    """
    # Metatables are protected (__metatable): read them with the debug
    # library, which only --unsafe-no-sandbox offers once the sandbox exists.
    p = sh(sandlua, "--unsafe-no-sandbox", "-e", prog)
    if p.returncode == 2 and "--unsafe-no-sandbox" in p.stderr:
        p = sh(sandlua, "-e", prog)
    assert p.returncode == 0, p.stderr
    if p.stdout.strip() == "ABSENT":
        pytest.skip(f"the interpreter cannot make a {cls} yet")
    name, *methods = p.stdout.split()
    assert name == cls
    assert sorted(methods) == sorted(stub_classes()[cls])


# ---------------------------------------------------------------- systemd

def test_systemd_unit_is_hardened():
    keys = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    for k, v in {"DynamicUser": "yes", "ProtectSystem": "strict",
                 "ProtectHome": "yes", "PrivateTmp": "yes",
                 "NoNewPrivileges": "yes", "SystemCallArchitectures":
                 "native", "RestrictAddressFamilies": "AF_INET AF_INET6"
                 }.items():
        assert keys.get(k) == [v], k
    assert keys["SystemCallFilter"][0].startswith("@system-service")
    assert "MemoryMax" in keys
    assert keys["ExecStart"] == [
        "/usr/bin/sandlua --policy /etc/sandlua/%i.yaml /etc/sandlua/%i.lua"]


def instance_unit(tmp_path, sandlua):
    unit = tmp_path / "sandlua@demo.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/sandlua", sandlua))
    return unit


def test_systemd_unit_verifies(tmp_path, sandlua):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = instance_unit(tmp_path, sandlua)
    # --man=no: the man pages are checked once installed (test_packaging).
    p = sh("systemd-analyze", "verify", "--man=no", str(unit))
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_systemd_unit_exposure_is_low(tmp_path, sandlua):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = instance_unit(tmp_path, sandlua)
    # Exposure is scored 0-10 (x10 here): 2.0 or less is "OK".
    p = sh("systemd-analyze", "security", "--offline=true", "--threshold=20",
           "--no-pager", str(unit))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr


# ---------------------------------------------------------------- install

def make(*args, **kw):
    return sh("make", "--no-print-directory", "-C", str(ROOT), f"B={B}",
              *args, **kw)


def tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if not p.is_dir())


def test_install_and_uninstall(tmp_path):
    dest = tmp_path / "root"
    p = make("install", f"DESTDIR={dest}")
    assert p.returncode == 0, p.stdout + p.stderr
    files = tree(dest)
    pre = "usr/local/"
    expected = {pre + "bin/sandlua", pre + "etc/sandlua/policy.yaml",
                pre + "share/man/man1/sandlua.1",
                pre + "share/man/man5/sandlua-policy.5",
                pre + "lib/systemd/system/sandlua@.service"}
    expected |= {pre + "share/sandlua/types/" + s.name for s in STUBS}
    expected |= {pre + "share/sandlua/examples/" + e.name
                 for e in (ROOT / "examples").glob("*.lua")}
    expected |= {pre + "share/sandlua/examples/policies/" + e.name
                 for e in (ROOT / "policies" / "examples").glob("*.yaml")}
    doc = pre + "share/doc/sandlua/"
    expected |= {doc + "README.md", doc + "CHANGELOG.md", doc + "LICENSE",
                 doc + "policies/README.md"}
    expected |= {doc + "docs/" + d.name for d in (ROOT / "docs").glob("*.md")}
    expected |= {pre + "share/bash-completion/completions/sandlua",
                 pre + "share/zsh/site-functions/_sandlua"}
    assert set(files) == expected
    usr = dest / "usr" / "local"
    assert os.stat(usr / "bin" / "sandlua").st_mode & 0o777 == 0o755
    assert (usr / "etc/sandlua/policy.yaml").read_text() == \
        (ROOT / "policies" / "default.yaml").read_text()
    unit = (usr / "lib/systemd/system/sandlua@.service").read_text()
    assert "ExecStart=/usr/local/bin/sandlua --policy " \
           "/usr/local/etc/sandlua/%i.yaml /usr/local/etc/sandlua/%i.lua" \
           in unit
    # The man pages name this install's paths, not the packages'.
    for page in ("share/man/man1/sandlua.1", "share/man/man5/sandlua-policy.5"):
        text = (usr / page).read_text()
        assert "/usr/local/etc/sandlua/policy.yaml" in text, page
        assert not re.search(r"(?<!/usr/local)/etc/sandlua", text), page
        assert not re.search(r"(?<!/local)/usr/share/sandlua", text), page
    man1 = (usr / "share/man/man1/sandlua.1").read_text()
    assert "/usr/local/lib/systemd/system/sandlua@.service" in man1
    assert "/usr/local/share/sandlua/types/" in man1
    # The binary reads the policy that was installed (once it reads one).
    exe = (usr / "bin" / "sandlua").read_bytes()
    if b"sandlua/policy.yaml" in exe:
        assert b"/usr/local/etc/sandlua/policy.yaml" in exe
    # The installed binary runs an installed example.
    r = sh(str(usr / "bin" / "sandlua"),
           str(usr / "share/sandlua/examples/errors.lua"))
    assert r.returncode == 0 and "kind:" in r.stdout, r.stderr

    # A changed policy survives a reinstall and an uninstall.
    policy = usr / "etc/sandlua/policy.yaml"
    policy.write_text(policy.read_text() + "# local change\n")
    p = make("install", f"DESTDIR={dest}")
    assert p.returncode == 0 and "keeping existing" in p.stdout
    assert policy.read_text().endswith("# local change\n")
    p = make("uninstall", f"DESTDIR={dest}")
    assert p.returncode == 0, p.stderr
    assert tree(dest) == [pre + "etc/sandlua/policy.yaml"]

    # An unchanged policy is removed with the rest.
    p = make("install", f"DESTDIR={tmp_path / 'two'}")
    assert p.returncode == 0
    p = make("uninstall", f"DESTDIR={tmp_path / 'two'}")
    assert p.returncode == 0 and tree(tmp_path / "two") == []


def test_install_into_usr_puts_the_policy_in_etc():
    # -n: the paths only, no rebuild of the tree under test.
    p = make("-n", "install", "PREFIX=/usr", "DESTDIR=/D")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "/D/etc/sandlua/policy.yaml" in out
    assert "/D/usr/etc" not in out
    assert "/D/usr/bin/sandlua" in out
    assert "/D/usr/share/sandlua/types/" in out
    assert "/D/usr/share/man/man5/" in out
    p = make("-n", "install", "PREFIX=/opt/sl", "SYSCONFDIR=/srv/conf",
             "DESTDIR=/D")
    assert "/D/srv/conf/sandlua/policy.yaml" in p.stdout
    assert "/D/opt/sl/bin/sandlua" in p.stdout


# ---------------------------------------------------------------- examples

def example_sources():
    """The Lua of examples/ and of the man page's EXAMPLES section."""
    out = {p.name: p.read_text() for p in (ROOT / "examples").glob("*.lua")}
    ex = man_section(MAN / "sandlua.1", "EXAMPLES")
    out["sandlua.1"] = re.sub(r"\\-", "-", re.sub(r"\\e", "\\\\", ex))
    return out


MODULES = ("websocket", "json", "time", "channel", "errors", "security")


@pytest.mark.parametrize("name,src", sorted(example_sources().items()))
def test_examples_use_only_what_the_stubs_declare(name, src):
    # A light stand-in for lua-language-server: every module.field an
    # example names is declared by that module's stub.
    declared = {m: lib_fields(TYPES / f"{m}.d.lua")[1] for m in MODULES}
    if "coroutine.spawn" in src:
        assert "coroutine.spawn" in stub_functions(TYPES / "coroutine.d.lua")
    for mod, field in re.findall(
            r"(?<![\w.:])(" + "|".join(MODULES) + r")\.([A-Za-z_]\w*)", src):
        assert field in declared[mod], f"{name}: {mod}.{field} undeclared"


def test_lua_language_server_checks_examples(tmp_path):
    exe = shutil.which("lua-language-server")
    if not exe:
        pytest.skip("lua-language-server is not installed (neither Debian "
                    "nor npm packages it here); the stubs are checked "
                    "by the tests above")
    # The repository's .luarc.json, with the library as an absolute path.
    import json
    cfg = json.loads((ROOT / ".luarc.json").read_text())
    cfg["workspace.library"] = [str(TYPES)]
    (tmp_path / "luarc.json").write_text(json.dumps(cfg))
    p = sh(exe, "--check", str(ROOT / "examples"),
           "--configpath", str(tmp_path / "luarc.json"),
           "--checklevel=Warning", f"--logpath={tmp_path}", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no problems found" in p.stdout.lower(), p.stdout


# ---------------------------------------------------------------- policy
# The YAML of sandlua-policy(5) is what users copy: it must load.

def man_examples(page):
    """The text of each .EX/.EE block of a man page, roff escapes undone."""
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE$", page.read_text(), re.M | re.S)
    return [b.replace("\\-", "-").replace("\\e", "\\") for b in blocks]


def policy_subcommand(sandlua, *args, cwd=None):
    """Run `sandlua policy ARGS`; skip while the interpreter has no such
    command (it then tries to run a script named "policy")."""
    p = sh(sandlua, "policy", *args, cwd=cwd)
    if "cannot open policy" in p.stderr:
        pytest.skip("this sandlua has no `policy` command yet")
    return p


POLICY_EXAMPLES = [b for b in man_examples(MAN / "sandlua-policy.5")
                   if b.startswith("version:")]


def test_man_page_has_policy_and_cases_examples():
    assert len(POLICY_EXAMPLES) >= 4
    assert any(b.startswith("policies:")
               for b in man_examples(MAN / "sandlua-policy.5"))


@pytest.mark.parametrize("i", range(len(POLICY_EXAMPLES)))
def test_man_page_policy_example_loads(sandlua, tmp_path, i):
    import yaml
    doc = yaml.safe_load(POLICY_EXAMPLES[i])
    assert doc["version"] == "1.0" and doc["namespace"]
    assert set(doc) <= {"version", "namespace", "strict", "actor",
                        "sandbox", "entries"}
    for e in doc["entries"]:
        assert e["kind"] == "security.policy"
        assert set(e["policy"]) <= {"actions", "resources", "effect",
                                    "conditions"}
        assert e["policy"]["effect"] in ("allow", "deny")
    f = tmp_path / "example.yaml"
    f.write_text(POLICY_EXAMPLES[i])
    p = policy_subcommand(sandlua, "lint", str(f))
    assert p.returncode == 0, \
        f"sandlua-policy(5) example {i} fails lint: {p.stdout}{p.stderr}"


def test_man_page_cases_example_passes(sandlua, tmp_path):
    import yaml
    cases = next(b for b in man_examples(MAN / "sandlua-policy.5")
                 if b.startswith("policies:"))
    doc = yaml.safe_load(cases)
    assert doc["policies"] == ["../policies/prices.yaml"]
    for c in doc["cases"]:
        assert {"name", "action", "resource", "expect"} <= set(c)
        assert c["expect"] in ("allow", "deny", "invalid")
    # The cases test the FILE FORMAT example, saved where they expect it.
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "prices.yaml").write_text(
        POLICY_EXAMPLES[0])
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "cases.yaml").write_text(cases)
    p = policy_subcommand(sandlua, "test", "ci/cases.yaml", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(re.findall(r"^ok ", p.stdout, re.M)) == len(doc["cases"])


def test_lua_vm_sits_at_its_page_offset(sandlua):
    # The Makefile links sandlua twice so that luaV_execute lands at
    # VM_OFFSET modulo 4096 whatever code comes before it (its speed moves
    # by up to 20% with that offset; bench/sandbox).
    mk = (ROOT / "Makefile").read_text()
    offset = int(re.search(r"^VM_OFFSET \?= (0x[0-9a-f]+)$", mk, re.M)[1], 16)
    syms = subprocess.run(["nm", sandlua], capture_output=True,
                          text=True).stdout
    m = re.search(r"^([0-9a-f]+) [tT] luaV_execute$", syms, re.M)
    if m is None:
        pytest.skip("liblua is linked shared (STATIC_LIBS)")
    assert int(m[1], 16) % 4096 == offset
    # The second link does not move anything before the padding: the
    # script computes it from the first.
    pad = subprocess.run([str(ROOT / "scripts/vm-pad.sh"), sandlua,
                          hex(offset)], capture_output=True, text=True,
                         check=True).stdout
    assert ".skip 0," in pad


def test_a_vm_off_its_offset_fails_the_build_loudly(sandlua):
    # The Makefile runs `vm-pad.sh --check` on the second link: a linker
    # flag that moves luaV_execute (say -Wl,--sort-section=alignment) is a
    # build error that names the way out, never a silently slower binary.
    syms = subprocess.run(["nm", sandlua], capture_output=True,
                          text=True).stdout
    m = re.search(r"^([0-9a-f]+) [tT] luaV_execute$", syms, re.M)
    if m is None:
        pytest.skip("liblua is linked shared (STATIC_LIBS)")
    at = int(m[1], 16) % 4096
    wrong = hex((at + 16) % 4096)
    p = subprocess.run([str(ROOT / "scripts/vm-pad.sh"), "--check", sandlua,
                        wrong], capture_output=True, text=True)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr == (f"vm-pad.sh: {sandlua}: luaV_execute is at offset "
                        f"{hex(at)} modulo 4096, not at VM_OFFSET {wrong}: "
                        "the linker flags moved code around the padding; "
                        "build with VM_OFFSET= to link without it\n")
    ok = subprocess.run([str(ROOT / "scripts/vm-pad.sh"), "--check", sandlua,
                         hex(at)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""


def make_n(*args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", "--no-print-directory", "-n", "-B",
                           "-C", str(ROOT), "B=build-make-n", *args,
                           "build-make-n/sandlua"], capture_output=True,
                          text=True, env=env)


def test_the_link_is_checked_and_vm_offset_empty_links_once():
    p = make_n()
    assert p.returncode == 0, p.stderr
    assert "scripts/vm-pad.sh --check build-make-n/sandlua.tmp 0x3a0" \
        in p.stdout
    once = make_n("VM_OFFSET=")
    assert once.returncode == 0, once.stderr
    assert "vm-pad" not in once.stdout
    links = [ln for ln in once.stdout.splitlines()
             if "-o build-make-n/sandlua " in ln]
    assert len(links) == 1


@pytest.mark.parametrize("value", ["abc", "0x3a1", "4096", "-16", "0x",
                                   "12abc", ""])
def test_vm_offset_out_of_range_is_an_error(sandlua, value):
    p = subprocess.run([str(ROOT / "scripts/vm-pad.sh"), sandlua, value],
                       capture_output=True, text=True)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr == (f"vm-pad.sh: VM_OFFSET {value}: must be a multiple "
                        "of 16 below 4096 (functions are 16-byte aligned)\n")


def test_static_libs_names_only_linked_libraries():
    # make -n: the link command is expanded (and refused), nothing is built.
    env = {k: v for k, v in os.environ.items()
           if k not in ("B", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    p = subprocess.run(["make", "-n", "-B", "B=build",
                        "STATIC_LIBS=lua5.4 foo", "build/sandlua"], cwd=ROOT,
                       capture_output=True, text=True, env=env)
    assert p.returncode == 2
    assert "STATIC_LIBS: foo: not among the libraries sandlua links" in \
        p.stderr


# ---------------------------------------------------------------- docs

def readme_commands():
    """The README's `sandlua ...` lines that end in # allowed / # denied."""
    lines = (ROOT / "README.md").read_text().splitlines()
    cmds, cur = [], ""
    for line in lines:
        if cur or line.startswith("    sandlua "):
            cur += line.strip()
            if cur.endswith("\\"):
                cur = cur[:-1] + " "
                continue
            m = re.match(r"(.*?)\s+#\s*(allowed|denied)$", cur)
            if m:
                cmds.append((m.group(1).split(), m.group(2)))
            cur = ""
    return cmds


def test_readme_has_allowed_and_denied_commands():
    outcomes = [o for _, o in readme_commands()]
    assert "allowed" in outcomes and "denied" in outcomes, outcomes
    # Every --policy command of the README is annotated, so none can
    # silently be denied.
    text = (ROOT / "README.md").read_text()
    assert text.count("    sandlua --policy ") == \
        sum(1 for c, _ in readme_commands() if "--policy" in c)


@pytest.mark.parametrize("cmd,outcome", readme_commands(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_readme_command_is_decided_as_it_says(sandlua, cmd, outcome):
    args, i = [], 1
    while i < len(cmd) and cmd[i].startswith("--"):
        args += [cmd[i], cmd[i + 1].strip("'")]
        i += 2
    url = cmd[-1]
    assert re.match(r"wss?://", url), cmd
    p = sh(sandlua, "policy", "check", *args, "websocket.connect.url", url,
           cwd=ROOT)
    word = "allow" if outcome == "allowed" else "deny"
    assert p.stdout.splitlines()[0] == word, (cmd, p.stdout, p.stderr)


DOC_FILES = [ROOT / "README.md", ROOT / "CHANGELOG.md",
             ROOT / "policies" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_doc_links_stay_inside_the_repository(doc):
    text = doc.read_text()
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if ROOT not in path.parents or not path.exists():
            bad.append(target)
    # A path in backquotes that climbs out of the tree (../shared/...).
    for target in re.findall(r"`(\.\./[^`\s]+)`", text):
        path = (doc.parent / target).resolve()
        if ROOT not in path.parents or not path.exists():
            bad.append(target)
    assert not re.search(r"/work/|\.\./shared/", text), doc
    assert not bad, bad


def test_license_is_mit_as_the_packages_say():
    lic = (ROOT / "LICENSE").read_text()
    assert lic.startswith("MIT License\n")
    copyright = (ROOT / "packaging/debian/copyright").read_text()
    body = copyright.split("License: Expat\n")[-1]
    expat = " ".join("" if l.strip() == "." else l.strip()
                     for l in body.splitlines())
    mine = " ".join(l.strip() for l in lic.split("\n\n", 2)[2].splitlines())
    assert " ".join(expat.split()) == " ".join(mine.split())
    spec = (ROOT / "packaging/rpm/sandlua.spec").read_text()
    assert re.search(r"^License:\s+MIT$", spec, re.M)
    assert re.search(r"^%license LICENSE$", spec, re.M)


def test_changelog_has_every_release():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\d+\.\d+\.\d+) - (\d{4}-\d\d-\d\d)$", text,
                          re.M)
    assert releases and releases[0][0] == version(), releases
    deb = (ROOT / "packaging/debian/changelog").read_text()
    debv = re.findall(r"^sandlua \((\d+\.\d+\.\d+)-\d+\)", deb, re.M)
    assert [v for v, _ in releases] == debv


def test_maintainer_and_homepage_agree():
    control = (ROOT / "packaging/debian/control").read_text()
    maint = re.search(r"^Maintainer: (.+)$", control, re.M).group(1)
    assert re.fullmatch(r"[^<>]+ <[^@<>\s]+@[^@<>\s]+\.[a-z]+>", maint)
    changelog = (ROOT / "packaging/debian/changelog").read_text()
    for m in re.findall(r"^ -- (.+?)  ", changelog, re.M):
        assert m == maint
    copyright = (ROOT / "packaging/debian/copyright").read_text()
    assert f"Upstream-Contact: {maint}\n" in copyright
    spec = (ROOT / "packaging/rpm/sandlua.spec").read_text()
    for m in re.findall(r"^\* \w{3} \w{3} \d+ \d{4} (.+) - ", spec, re.M):
        assert m == maint
    home = re.search(r"^Homepage: (\S+)$", control, re.M).group(1)
    assert re.search(rf"^URL:\s+{re.escape(home)}$", spec, re.M)
    assert f"Source: {home}\n" in copyright


def test_spec_has_the_systemd_scriptlets():
    spec = (ROOT / "packaging/rpm/sandlua.spec").read_text()
    for part, macro in (("post", "systemd_post"), ("preun", "systemd_preun"),
                        ("postun", "systemd_postun_with_restart")):
        assert re.search(rf"^%{part}\n%{macro} sandlua@\.service$", spec,
                         re.M), part


# ---------------------------------------------------------------- completion

COMP = ROOT / "packaging" / "completion"


def help_options(sandlua, *args):
    p = sh(sandlua, *args, "--help")
    opts = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", p.stdout))
    return opts


def test_help_options_are_parsed(sandlua):
    opts = help_options(sandlua)
    assert {"-e", "-E", "--policy", "--seccomp", "--help"} <= opts


def completion_options(script):
    """The options a completion script offers: bash's compgen -W word
    lists, zsh's _arguments specs."""
    text = (COMP / script).read_text()
    if script.endswith(".bash"):
        words = " ".join(re.findall(r"compgen -W '([^']*)'", text)).split()
        words += re.findall(r'opts=\'([^\']*)\'', text)
        words = " ".join(words).split()
        return {w for w in words if w.startswith("-")}
    return set(re.findall(r"'(?:\([^)]*\))?\*?(--?[A-Za-z][\w-]*)\[", text))


@pytest.mark.parametrize("script", ["sandlua.bash", "_sandlua"])
def test_completion_offers_exactly_the_options_of_help(sandlua, script):
    offered = completion_options(script)
    want = help_options(sandlua) | help_options(sandlua, "policy")
    for sub in ("lint", "check", "test"):
        want |= help_options(sandlua, "policy", sub)
    if script.endswith(".bash"):
        want |= {"--", "-"}
    assert offered == want, (sorted(want - offered), sorted(offered - want))
    text = (COMP / script).read_text()
    usage = sh(sandlua, "policy", "--help").stdout
    for sub in re.findall(r"sandlua policy (\w+)", usage):
        assert re.search(rf"\b{sub}\b", text), sub


def test_completion_check_fails_on_a_missing_option(sandlua, tmp_path,
                                                    monkeypatch):
    # The check above is not vacuous: drop one option and it differs.
    text = (COMP / "sandlua.bash").read_text().replace(" --audit-all", "")
    (tmp_path / "sandlua.bash").write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "COMP", tmp_path)
    want = help_options(sandlua) | help_options(sandlua, "policy")
    for sub in ("lint", "check", "test"):
        want |= help_options(sandlua, "policy", sub)
    assert "--audit-all" in want - completion_options("sandlua.bash")


def complete(words):
    """What bash completion offers for the command line `words` (the last
    word is the one being completed)."""
    script = (f"source {COMP / 'sandlua.bash'}\n"
              "COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1))\n"
              "_sandlua; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    p = sh("bash", "-c", script, "bash", *words, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_bash_completion_completes():
    assert complete(["sandlua", "--pol"]) == {"--policy"}
    assert complete(["sandlua", "--seccomp", ""]) == {"strict", "log", "off"}
    assert complete(["sandlua", "pol"]) == {"policy"}
    assert complete(["sandlua", "policy", ""]) >= {"lint", "check", "test"}
    assert complete(["sandlua", "policy", "test", "--j"]) == {"--junit"}
    assert complete(["sandlua", "policy", "check", "--i"]) == {"--ip"}
    assert complete(["sandlua", "policy", "check", "websocket.connect."]) == \
        {"websocket.connect.url"}
    assert "examples/errors.lua" in complete(["sandlua", "examples/err"])
    # After the script, the words are the script's: no options offered.
    assert complete(["sandlua", "x.lua", "--pol"]) == set()
    # An option's value is not the script.
    assert complete(["sandlua", "--timeout", "5s", "--pol"]) == {"--policy"}


def test_zsh_completion_parses():
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed")
    p = sh("zsh", "-n", str(COMP / "_sandlua"))
    assert p.returncode == 0, p.stderr
    # compinit finds it in fpath and binds it to the sandlua command.
    p = sh("zsh", "-f", "-c", f"fpath=({COMP} $fpath); autoload -Uz "
           "compinit; compinit -D -u; print -r -- $_comps[sandlua]")
    assert p.stdout.strip() == "_sandlua", p.stdout + p.stderr
