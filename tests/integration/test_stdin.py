"""Standard input inside the event loop: io.read and io.lines() block only
the task that calls them, with lua5.4's results for every format."""
import os
import select
import subprocess
import textwrap

import pytest


def start(sandlua, tmp_path, code, *args):
    script = tmp_path / "s.lua"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen([sandlua, *args, str(script)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)


def readline(p, timeout=20):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    assert r, "no output: the process is blocked"
    return p.stdout.readline().rstrip("\n")


TICKER = """
coroutine.spawn(function()
  for i = 1, 1000 do print("tick") io.stdout:flush() time.sleep("20ms") end
end)
"""


def test_io_read_blocks_only_its_task(sandlua, tmp_path):
    # While io.read waits for a line, another task keeps running; a line
    # that arrives in two writes is one line.
    p = start(sandlua, tmp_path, TICKER + """
        local line = io.read()
        print("got " .. line) io.stdout:flush()
        os.exit(0)
    """)
    try:
        assert readline(p) == "tick"
        p.stdin.write("hello ")
        p.stdin.flush()
        assert readline(p) == "tick"
        assert readline(p) == "tick"  # still running: half a line is no line
        p.stdin.write("world\n")
        p.stdin.flush()
        while (line := readline(p)) == "tick":
            pass
        assert line == "got hello world"
        assert p.wait(timeout=20) == 0
    finally:
        p.kill()
        p.wait()


def test_io_lines_in_a_task_beside_a_timer(sandlua, tmp_path):
    p = start(sandlua, tmp_path, TICKER + """
        local n = 0
        for l in io.lines() do n = n + 1 print("line " .. l) io.stdout:flush() end
        print("lines " .. n) io.stdout:flush()
        os.exit(0)
    """)
    try:
        assert readline(p) == "tick"
        p.stdin.write("a\nb\n")
        p.stdin.flush()
        got = []
        while len(got) < 2:
            line = readline(p)
            if line != "tick":
                got.append(line)
        assert got == ["line a", "line b"]
        p.stdin.write("c")
        p.stdin.close()  # the end of input ends a last line without \\n
        rest = [ln for ln in p.stdout.read().splitlines() if ln != "tick"]
        assert rest == ["line c", "lines 3"]
        assert p.wait(timeout=20) == 0
    finally:
        p.kill()
        p.wait()


FORMATS = """
print(io.read("n", "n", "l"))
print(io.read("L"))
print(io.read(3), io.read(0))
print(io.read("n"))
print(io.read("l"))
print(io.read("a"))
print(io.read("a"), io.read("l"), io.read(0), io.read(5))
"""
INPUT = "12 0x1F rest\nline two\nabcdef\n  -3.5e2x\ntail\nand\nall\n"


@pytest.mark.parametrize("how", ["pipe", "file", "in a comparator"])
def test_formats_match_lua54(sandlua, tmp_path, how):
    code = FORMATS
    if how == "in a comparator":  # cannot yield there: blocks the process
        code = ("table.sort({2, 1}, function(a, b)\n"
                "  if not done then done = true\n" + FORMATS +
                "  end return a < b end)\n")
    script = tmp_path / "f.lua"
    script.write_text(code)
    infile = tmp_path / "in.txt"
    infile.write_text(INPUT)

    def run(cmd):
        if how == "file":
            with open(infile) as f:
                return subprocess.run(cmd, stdin=f, capture_output=True,
                                      text=True, timeout=20)
        return subprocess.run(cmd, input=INPUT, capture_output=True,
                              text=True, timeout=20)
    ours = run([sandlua, str(script)])
    ref = run(["lua5.4", str(script)])
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == ref.stdout


def test_reading_devnull_and_a_closed_stdin(sandlua, tmp_path):
    script = tmp_path / "n.lua"
    script.write_text("print(io.read(), io.read('a'), io.read(0))\n")
    with open(os.devnull) as f:
        r = subprocess.run([sandlua, str(script)], stdin=f,
                           capture_output=True, text=True, timeout=20)
    assert (r.returncode, r.stdout) == (0, "nil\t\tnil\n"), r.stderr
    r = subprocess.run([sandlua, str(script)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20)
    assert r.stdout == "nil\t\tnil\n"
