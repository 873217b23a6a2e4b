"""The command line behaves as stock lua5.4's on the same inputs.

The comparison runs sandlua with --unsafe-no-sandbox (the full standard
library, LUA_INIT honoured), as the first option; the sandboxed command line
is covered by test_sandbox.py.
"""
import os
import subprocess

import pytest

from conftest import sandlua_path


UNSAFE = "--unsafe-no-sandbox"
UNSAFE_WARNING = ("sandlua: warning: --unsafe-no-sandbox: full standard "
                  "library, no system call filter, no Landlock\n")


def both(sandlua, lua54, args, stdin=None, env_extra=None, tmp_path=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LUA_")}
    env.update(env_extra or {})
    out = []
    for exe, name, pre in ((sandlua, "sandlua", [UNSAFE]),
                           (lua54, "lua5.4", [])):
        p = subprocess.run([exe, *pre, *args], input=stdin,
                           capture_output=True, text=True, env=env,
                           timeout=30, cwd=tmp_path)
        err = p.stderr
        if pre:
            assert err.startswith(UNSAFE_WARNING), err
            err = err[len(UNSAFE_WARNING):]
        # The program name is the only other expected difference.
        err = err.replace(exe + ":", "PROG:").replace(name + ":", "PROG:")
        out.append((p.returncode, p.stdout, err))
    return out


# Every argument but the program's name, without sandlua's extra first
# option: with a script it sits just after the program's name, at the lowest
# index, and the other indices are lua's; without one (arg[0] is the
# program), the options after it are one place further than lua's.
SCRIPT = """
local lo = 0
while arg[lo - 1] do lo = lo - 1 end
local shift = 0
for i = lo + 1, #arg do
  if arg[i] == "--unsafe-no-sandbox" then
    if i > 0 then shift = 1 end
  else
    print(i > 0 and i - shift or i, arg[i])
  end
end
print("n", select("#", ...), ...)
"""

CASES = [
    ["-v"],
    ["-e", "print(1 + 1)"],
    ["-eprint('attached')"],
    ["-e", "x = 41", "-e", "print(x + 1)"],
    ["-l", "string", "-e", "print(type(string))"],
    ["-l", "s=string", "-e", "print(s.upper('ok'))"],
    ["-W", "-e", "warn('hello')"],
    ["-e", "warn('quiet')"],
    ["-e", "error('boom')"],
    ["-e", "error({})"],
    ["-e", "error(setmetatable({}, {__tostring = function() return 'TS' end}))"],
    ["-e", "x ="],
    ["-e", "os.exit(7)"],
    ["-e", "os.exit(false)"],
    ["-v", "-e", "print('after version')"],
    ["nonexistent.lua"],
    ["-l", "nonexistent_module"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a))
def test_same_as_lua(sandlua, lua54, args):
    a, b = both(sandlua, lua54, args)
    assert a == b


def test_script_args_and_arg_table(sandlua, lua54, tmp_path):
    (tmp_path / "s.lua").write_text(SCRIPT)
    for args in (["s.lua", "a", "b c"], ["-W", "s.lua", "x"],
                 ["-e", "y=1", "--", "s.lua", "-e"], ["s.lua"]):
        a, b = both(sandlua, lua54, args, tmp_path=tmp_path)
        assert a == b, args
        assert a[0] == 0


def test_stdin_dash_and_implicit(sandlua, lua54, tmp_path):
    for args in (["-"], ["-", "p", "q"], [], ["-W"]):
        a, b = both(sandlua, lua54, args, stdin=SCRIPT, tmp_path=tmp_path)
        assert a == b, args


def test_dash_after_double_dash_is_a_file(sandlua, lua54, tmp_path):
    (tmp_path / "-").write_text("print('file named dash')")
    a, b = both(sandlua, lua54, ["--", "-"], tmp_path=tmp_path)
    assert a == b


def test_interactive(sandlua, lua54):
    stdin = "1 + 2\nx = 5\nprint(x)\nfunction f()\nreturn 9 end\nf()\nerror('e')\n"
    a, b = both(sandlua, lua54, ["-i"], stdin=stdin)
    # Debian's lua5.4 uses readline, which echoes each input line after its
    # prompt when stdin is not a terminal; compare what the chunks printed.
    def results(out):
        return [l for l in out.replace("> ", "\n").replace(">> ", "\n")
                .splitlines() if l and l not in stdin.splitlines()
                and l not in (">", ">>")]
    assert a[0] == b[0] and a[2] == b[2]
    assert results(a[1]) == results(b[1]) == [
        "Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio", "3", "5", "9"]


def test_lua_init(sandlua, lua54, tmp_path):
    env = {"LUA_INIT": "print('init ran')"}
    a, b = both(sandlua, lua54, ["-e", "print('main')"], env_extra=env)
    assert a == b and a[1] == "init ran\nmain\n"
    a, b = both(sandlua, lua54, ["-E", "-e", "print('main')"], env_extra=env)
    assert a == b and a[1] == "main\n"
    (tmp_path / "init.lua").write_text("print('from file')")
    env = {"LUA_INIT_5_4": "@" + str(tmp_path / "init.lua"),
           "LUA_INIT": "print('not me')"}
    a, b = both(sandlua, lua54, ["-e", ""], env_extra=env)
    assert a == b and a[1] == "from file\n"


def test_uncaught_error_format(run, tmp_path):
    (tmp_path / "bad.lua").write_text("local x = 1\nerror('boom')\n")
    p = run("bad.lua", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stderr.startswith("sandlua: bad.lua:2: boom\nstack traceback:")


def test_error_object_uses_its_message(run):
    p = run("-e", "error(errors.new{kind = errors.INVALID, message = 'nope'})")
    assert p.returncode == 1
    assert p.stderr.startswith("sandlua: nope\nstack traceback:")


@pytest.mark.parametrize("args,what", [
    (["-x"], "unrecognized option '-x'"),
    (["-vx"], "unrecognized option '-vx'"),
    (["-e"], "'-e' needs an argument"),
    (["-l"], "'-l' needs an argument"),
    (["-e", "-v"], "'-e' needs an argument"),
    (["--nope"], "unrecognized option '--nope'"),
])
def test_usage_errors_exit_2_with_hint(run, args, what):
    p = run(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert lines[0] == "sandlua: " + what
    assert lines[1] == "Try 'sandlua --help' for more information."


def test_help_and_version(run):
    p = run("--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: sandlua")
    assert "--version" in p.stdout
    p = run("--version")
    assert p.returncode == 0
    for lib in ("sandlua ", "Lua 5.4", "OpenSSL", "libseccomp", "libyaml",
                "c-ares", "zlib"):
        assert lib in p.stdout, lib
    # the event loop is sandlua's own (epoll): libwebsockets is not linked
    assert "libwebsockets" not in p.stdout


def test_long_options_keep_their_place_in_arg(run):
    p = run("--version", "-e", "print(arg[-2])")
    assert p.returncode == 0  # --version exits first
    p = run("-e", "print(arg[-1], arg[0])", "--", "x")
    assert p.stdout == "--\tx\n" or p.returncode == 1


def test_stderr_diagnostics_escape_control_characters(run, tmp_path):
    # A CR or an ESC from an option, a file name or a script's message is
    # shown as \r / \x1b, never sent to the terminal; a traceback keeps its
    # line breaks.
    p = run("--timeout", "1\x1bs", "-e", "1")
    assert p.returncode == 2 and "\x1b" not in p.stderr
    assert '--timeout 1\\x1bs' in p.stderr
    p = run("--policy", str(tmp_path / "no\rfile.yaml"), "-e", "1")
    assert p.returncode == 3 and "\r" not in p.stderr
    assert "no\\rfile.yaml" in p.stderr
    p = run("-e", "error('a\\rb\\27[2Jc')")
    assert p.returncode == 1
    assert "\r" not in p.stderr and "\x1b" not in p.stderr
    assert "a\\rb\\x1b[2Jc" in p.stderr and "\nstack traceback:\n\t" in p.stderr
    p = run("policy", "check", "--ip", "1.2.3.4\x1b[0m", "x", "y")
    assert p.returncode == 2 and "\x1b" not in p.stderr


def test_max_connections_zero_means_none_and_help_says_so(run):
    h = run("--help")
    assert "--max-connections 0 none" in h.stdout
    assert "open connections (0: none)" in h.stdout
    p = run("--max-connections", "0", "--allow-url", "ws://127.0.0.1:9/*",
            "-e", "local c, e = require('websocket').connect("
                  "'ws://127.0.0.1:9/') print(c, e:kind())")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "nil\tUNAVAILABLE\n"


WARN = ('warn("hello") warn("@on") warn("a", "b", "c") warn("@off") '
        'warn("x") warn("@on") warn("@bogus") warn("line", 2, "\\n") '
        'warn("@off", "not a control") print("done")')


@pytest.mark.parametrize("flags", [[], ["-W"]])
def test_warn_as_lua54(run, flags):
    ours = run(*flags, "-e", WARN)
    ref = subprocess.run(["lua5.4", *flags, "-e", WARN], capture_output=True,
                         text=True, timeout=30)
    assert ours.returncode == 0, ours.stderr
    assert (ours.stdout, ours.stderr) == (ref.stdout, ref.stderr)
    assert "Lua warning: abc\n" in ours.stderr


def test_warn_counts_toward_max_output(run):
    p = run("--max-output", "100", "-W", "-e",
            "for i = 1, 100 do warn(string.rep('w', 50)) end print('after')")
    assert p.returncode == 8, p.stderr  # the output limit's status
    assert p.stderr.count("w") <= 100 + 20
    assert "after" not in p.stdout


def test_help_says_lua_path_and_init_are_ignored(run):
    p = run("--help")
    assert "LUA_INIT, LUA_PATH and LUA_CPATH are ignored" in p.stdout
    p = subprocess.run([sandlua_path(), "-e",
                        "print(package.path:find('/nowhere') == nil)"],
                       env=dict(os.environ, LUA_INIT="error('ran')",
                                LUA_PATH="/nowhere/?.lua"),
                       capture_output=True, text=True, timeout=30)
    assert (p.returncode, p.stdout) == (0, "true\n"), p.stderr
