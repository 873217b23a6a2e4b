"""Resource tests of the websocket client: no leak under valgrind across
connect/send/receive/close cycles (plain and TLS), descriptors that do not
grow over 1,000 failed connects."""
import os
import shutil
import subprocess
import textwrap
import time

import pytest

from wsservers import free_port


def test_valgrind_connect_cycles(sandlua, tmp_path, ws_servers, certs):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    if os.environ.get("SANITIZED"):
        pytest.skip("valgrind cannot run a sanitized binary (ASan checks it)")
    plain = ws_servers.echo()
    tls = ws_servers.echo(tls="server")
    script = tmp_path / "s.lua"
    script.write_text(textwrap.dedent("""
        local websocket = require("websocket")
        for i = 1, 10 do
          for _, u in ipairs({arg[1], arg[2]}) do
            local c = assert(websocket.connect(u, {ca_file = arg[3],
                                                 compression = i % 3}))
            assert(c:send(string.rep("x", 100 * i)))
            assert(#c:channel():receive().data == 100 * i)
            c:ping()
            assert(c:close())
          end
        end
        -- failures too, and one left open for the exit path
        assert(not websocket.connect(arg[4]))
        local c = assert(websocket.connect(arg[1]))
        c:send("!stream 50 10")
        print("ok")
    """))
    port = free_port()
    r = subprocess.run(
        ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
         # valgrind does not know Landlock's and seccomp's system calls
         sandlua, "--unsafe-no-sandbox", "--ca-file", certs.ca,
         "--allow-url", f"ws://127.0.0.1:{plain.port}/*",
         "--allow-url", f"wss://localhost:{tls.port}/*",
         "--allow-url", f"ws://127.0.0.1:{port}/*",
         str(script), plain.url(), tls.url(host="localhost"), certs.ca,
         f"ws://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert r.stdout.strip() == "ok"


def count_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_fds_do_not_grow_over_failed_connects(sandlua, tmp_path):
    port = free_port()
    script = tmp_path / "s.lua"
    script.write_text(textwrap.dedent("""
        local websocket = require("websocket")
        local function fail(n)
          for i = 1, n do
            local c, err = websocket.connect(arg[1])
            assert(not c and err:kind() == "INTERNAL", tostring(err))
          end
        end
        fail(10)
        print("A") io.stdout:flush()
        time.sleep("500ms")
        fail(1000)
        print("B") io.stdout:flush()
        time.sleep("500ms")
    """))
    p = subprocess.Popen([sandlua, "--allow-url", f"ws://127.0.0.1:{port}/*",
                          str(script), f"ws://127.0.0.1:{port}/"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "A"
        before = count_fds(p.pid)
        assert p.stdout.readline().strip() == "B", p.stderr.read()
        after = count_fds(p.pid)
    finally:
        p.wait(30)
    assert p.returncode == 0, p.stderr.read()
    assert after <= before, (before, after)


def test_fds_do_not_grow_over_failed_lookups(sandlua, tmp_path, ws_servers):
    # NXDOMAIN answers through the resolver sockets the lws loop adopts
    # (and closes when c-ares lets go of them)
    dns = ws_servers.dns({})
    script = tmp_path / "s.lua"
    script.write_text(textwrap.dedent("""
        local websocket = require("websocket")
        local function fail(n)
          for i = 1, n do
            local c, err = websocket.connect("ws://nx" .. i .. ".test:1/")
            assert(not c and err:message():find("no such host"), tostring(err))
          end
        end
        fail(10)
        print("A") io.stdout:flush()
        time.sleep("500ms")
        fail(300)
        print("B") io.stdout:flush()
        time.sleep("500ms")
    """))
    p = subprocess.Popen([sandlua, "--dns-server", dns.server,
                          "--allow-url", "ws://*:*/*", str(script)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "A"
        before = count_fds(p.pid)
        assert p.stdout.readline().strip() == "B", p.stderr.read()
        after = count_fds(p.pid)
    finally:
        p.wait(30)
    assert p.returncode == 0, p.stderr.read()
    # A leak would add one descriptor a lookup (300); c-ares may hold one
    # resolver socket (per family) more or less at either moment.
    assert after <= before + 2, (before, after)
    assert len(dns.queries) >= 620
