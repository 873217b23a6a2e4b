"""--allow-read PATH: io.open, io.lines, dofile, loadfile and require read
files under the given paths, read-only; `..`, symbolic links, FIFOs and
directories do not lead out; without the option the file functions say
which option allows them."""
import os
import subprocess
import textwrap

import pytest


@pytest.fixture
def tree(tmp_path):
    app = tmp_path / "app"
    (app / "lib").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (app / "data.txt").write_text("one\ntwo\n")
    (app / "mod.lua").write_text("return {x = 42}\n")
    (app / "lib" / "deep.lua").write_text("return 'deep'\n")
    (tmp_path / "secret" / "s.txt").write_text("top secret\n")
    (tmp_path / "single.txt").write_text("just this one\n")
    os.symlink(tmp_path / "secret" / "s.txt", app / "link.txt")
    os.symlink(tmp_path / "secret", app / "linkdir")
    os.mkfifo(app / "fifo")
    return tmp_path


def run(sandlua, tree, code, *opts, args=()):
    (tree / "app" / "main.lua").write_text(textwrap.dedent(code))
    return subprocess.run([sandlua, *opts, "main.lua", *args],
                          cwd=tree / "app", capture_output=True, text=True,
                          timeout=30)


def test_reads_under_the_allowed_directory(sandlua, tree):
    r = run(sandlua, tree, """
        local f = assert(io.open("data.txt"))
        print(f:read("l"), f:read("l"), f:read("l"))
        f:close()
        print(io.open((arg[0]:gsub("main%.lua", "data.txt")), "rb"):read("a") == "one\\ntwo\\n")
        for l in io.lines("data.txt") do print("line " .. l) end
        for a, b in io.lines("data.txt", 1, "l") do print(a, b) end
        print(require("mod").x, (require("lib.deep")))
        print(dofile("mod.lua").x, loadfile("mod.lua")().x)
        local env = {}
        loadfile("mod.lua", "t", env)
        print(select("#", dofile("mod.lua")))
    """, "--allow-read", ".")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "one\ttwo\tnil", "true", "line one", "line two", "o\tne",
        "t\two", "42\tdeep", "42\t42", "1"]


def test_nothing_leads_out(sandlua, tree):
    r = run(sandlua, tree, """
        for _, p in ipairs({"../secret/s.txt", "lib/../../secret/s.txt",
                            arg[1], "link.txt", "linkdir/s.txt", "fifo",
                            "lib", "missing.txt"}) do
          local f, err, code = io.open(p)
          print(f, err, code)
        end
        print(io.open("data.txt", "w"))
        print(io.open("data.txt", "r+"))
        print(io.open("data.txt", "a"))
        print(pcall(io.open, "data.txt", "x"))
        print(pcall(io.open, "data\\0.txt"))
        print(pcall(io.lines, "../secret/s.txt"))
        print(pcall(dofile, "link.txt"))
        print(loadfile("../secret/s.txt"))
        print(loadfile("mod.lua", "b"))
        local f = io.open("data.txt")
        print(f:write("x"))
    """, "--allow-read", ".", args=[str(tree / "secret" / "s.txt")])
    assert r.returncode == 0, r.stderr
    secret = str(tree / "secret" / "s.txt")
    out = r.stdout.replace(secret, "SECRET").splitlines()
    no = "not readable in the sandbox (under no --allow-read path)\t13"
    assert out[0] == "nil\t../secret/s.txt: " + no
    assert out[1] == "nil\tlib/../../secret/s.txt: " + no
    assert out[2] == "nil\tSECRET: " + no
    assert out[3] == ("nil\tlink.txt: a symbolic link (links are not "
                      "followed in the sandbox)\t40")
    assert out[4].startswith("nil\tlinkdir/s.txt: a symbolic link")
    assert out[5] == "nil\tfifo: not a regular file\t22"
    assert out[6] == "nil\tlib: Is a directory\t21"
    assert out[7] == "nil\tmissing.txt: No such file or directory\t2"
    ro = "files are read-only in the sandbox"
    assert out[8] == f"nil\tdata.txt: {ro} (mode 'w')\t13"
    assert out[9] == f"nil\tdata.txt: {ro} (mode 'r+')\t13"
    assert out[10] == f"nil\tdata.txt: {ro} (mode 'a')\t13"
    assert out[11].startswith("false\t") and "invalid mode" in out[11]
    assert out[12].startswith("false\t") and "zero byte" in out[12]
    assert out[13].startswith("false\t") and no.split("\t")[0] in out[13]
    assert out[14].startswith("false\tcannot open link.txt: a symbolic link")
    assert out[15].startswith("nil\tcannot open ../secret/s.txt: not readable")
    assert out[16] == ("nil\tbinary chunks cannot be loaded in the sandbox "
                       "(mode 'b')")
    assert out[17] == "nil\tBad file descriptor\t9"
    assert "top secret" not in r.stdout


def test_a_single_file(sandlua, tree):
    r = run(sandlua, tree, """
        print(io.open(arg[1]):read("l"))
        print(io.open(arg[2]))
    """, "--allow-read", str(tree / "single.txt"),
        args=[str(tree / "single.txt"), str(tree / "app" / "data.txt")])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "just this one"
    assert lines[1].startswith("nil\t") and "under no --allow-read" in lines[1]


def test_without_the_option_the_functions_say_what_allows_them(sandlua, tree):
    for call in ('io.open("data.txt")', 'io.lines("data.txt")',
                 'dofile("mod.lua")', 'loadfile("mod.lua")'):
        fn = call.split("(")[0]
        r = run(sandlua, tree, f"print(pcall(function() return {call} end))")
        assert r.returncode == 0, r.stderr
        assert (f"{fn} is not available in the sandbox: files can be read "
                "only under --allow-read PATH") in r.stdout, r.stdout
    r = run(sandlua, tree, "require('mod')")
    assert r.returncode == 1
    assert "--allow-read DIR" in r.stderr
    # io.lines() still reads standard input
    r = subprocess.run([sandlua, "-e", "for l in io.lines() do print(l) end"],
                       input="a\nb\n", capture_output=True, text=True,
                       timeout=30)
    assert r.stdout == "a\nb\n"


def test_modules_beside_the_script_need_its_directory(sandlua, tree):
    # the parent allowed: the script's directory (under it) is searched
    r = run(sandlua, tree, "print(require('mod').x)", "--allow-read",
            str(tree))
    assert r.returncode == 0 and r.stdout == "42\n", r.stderr


@pytest.mark.parametrize("value,why", [
    ("/nonexistent/x", "No such file or directory"),
    ("", "empty path"),
])
def test_bad_paths_are_usage_errors(sandlua, value, why):
    r = subprocess.run([sandlua, "--allow-read", value, "-e", "print(1)"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == ""
    assert why in r.stderr and "--allow-read" in r.stderr
