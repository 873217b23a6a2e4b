"""The REPL: on a terminal, line editing and history (libedit, loaded only
then), values of expressions printed as lua5.4 prints them, multi-line
statements; read from a pipe, the same without editing, and an escape
sequence is explained rather than taken for a binary chunk."""
import ctypes.util
import os
import pty
import re
import select
import subprocess
import time

import pytest


def drive(argv, keys):
    pid, fd = pty.fork()
    if pid == 0:  # the child: sandlua on the pty
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    out = b""

    def drain(until):
        nonlocal out
        end = time.monotonic() + 20
        seen = until if callable(until) else (lambda o: until in o)
        while not seen(out.replace(b"\r", b"")) and time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return
    drain(lambda o: o.endswith(b"> "))
    for k, wait in keys:
        os.write(fd, k)
        drain(wait)
    for i in range(100):  # a stuck REPL is a failure, not a hang
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if i % 10 == 9:  # the last key again, as a person would if it
            try:         # fell in the editor's switch of terminal modes
                os.write(fd, keys[-1][0])
            except OSError:
                pass
        # keep reading: the editor restores the terminal with TCSADRAIN,
        # which waits for its output to be read
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                pass
    else:
        os.kill(pid, 9)
        _, st = os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace").replace("\r", ""), st


def test_terminal_editing_history_values_and_multiline(sandlua):
    if ctypes.util.find_library("edit") is None:
        pytest.skip("libedit is not installed (the REPL reads plain lines)")
    # Each key goes only once the REPL shows its prompt again: input typed
    # ahead may be discarded when the line editor switches the terminal's
    # mode (as for a person typing too early).
    def prompt(end, also=lambda o: True):
        return lambda o: o.endswith(end) and also(o)
    out, st = drive([sandlua], [
        (b"41+1\r", prompt(b"42\n> ")),
        (b"\x1b[A\r", prompt(b"42\n> ", lambda o: o.count(b"42\n") == 2)),
        (b"for i = 1, 2 do\r", prompt(b">> ")),
        (b"print(i * 10)\r", prompt(b">> ")),
        (b"end\r", prompt(b"20\n> ")),
        (b"{}\r", lambda o: re.search(rb"table: 0x[0-9a-f]+\n> $", o)),
        (b"\x04", lambda o: True),                 # Ctrl-D ends it
    ])
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, (st, out)
    assert "> 41+1\n42\n" in out
    assert out.count("42\n") == 2
    assert "10\n20\n" in out
    assert "binary chunk" not in out


def test_piped_repl_prints_values_and_explains_escapes(sandlua):
    p = subprocess.run([sandlua, "-i"], input="1 + 1\n\x1b[A\nreturn 'x', 2\n",
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "2\n" in p.stdout and "x\t2\n" in p.stdout
    assert "binary chunk" not in p.stderr
    assert "terminal escape sequence" in p.stderr


def test_ctrl_c_at_the_prompt_ends_it_as_lua54(sandlua):
    # libedit's own signal handling would re-send the signal with
    # kill(0, SIGINT), which the seccomp filter refuses (status 9)
    if ctypes.util.find_library("edit") is None:
        pytest.skip("libedit is not installed (the REPL reads plain lines)")
    out, st = drive([sandlua], [(b"\x03", lambda o: True)])
    assert "blocked system call" not in out, out
    assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == 2, (st, out)
