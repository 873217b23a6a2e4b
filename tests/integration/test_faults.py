"""Fault injection: hostile servers over real TCP (and TLS with the
session's test certificates) against the WebSocket client.  Each fault ends
with the documented close_status / error kind (docs/websocket.md), within
the timeouts the script sets through the API's options, and without a leak
(one valgrind run over every fault).  The timeouts of the tests themselves
only guard against a hang; nothing here measures time.

    reset       a message, then half a frame, then RST (SO_LINGER 0)
    violation   a message, then a frame over read_limit (1009; in the
                valgrind run only: test_websocket_strict.py checks it)
    half-open   the server stops reading and answering after the handshake:
                read_timeout, write_timeout, and close() that gets no reply
    slowloris   the 101 response one byte every 20 ms: dial_timeout
    tls-silent  accepts TCP, never answers the ClientHello: dial_timeout
    million     1,000,000 messages to a consumer that reads slowly: all of
                them, in order, checksummed, at flat memory
"""
import asyncio
import os
import shutil
import socket
import struct
import subprocess
import textwrap

import pytest

from test_websocket import allow_port, lua, ok  # noqa: F401
from wsservers import (OP_BINARY, OP_TEXT, ScriptedServer, close_frame,
                       frame, ws_accept)


class SlowHandshake(ScriptedServer):
    """Answers the upgrade correctly, but one byte every `delay` seconds."""

    def __init__(self, delay=0.02, **kw):
        self.delay = delay
        super().__init__(**kw)

    async def handle(self, reader, writer, info):
        if not await self._request(reader, info):
            return
        key = info.header("Sec-WebSocket-Key") or ""
        head = ("HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {ws_accept(key)}\r\n\r\n").encode()
        for i in range(len(head)):
            writer.write(head[i:i + 1])
            await writer.drain()
            await asyncio.sleep(self.delay)
        # never reached in the test: the client gave up long before
        await reader.read()


class HalfOpen(ScriptedServer):
    """Completes the handshake, then neither reads nor answers: the socket
    stays open with its receive buffer made small, so the client's writes
    soon find no room.  Closed when the test stops the server."""

    async def handle(self, reader, writer, info):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await super().handle(reader, writer, info)
        writer.transport.pause_reading()
        await asyncio.sleep(3600)


def _million_frames(n, batch=20000):
    """Text frames "0", "1", ... "n-1", in batches of bytes."""
    for start in range(0, n, batch):
        out = bytearray()
        for i in range(start, min(n, start + batch)):
            s = str(i).encode()
            out += bytes((0x81, len(s))) + s
        yield bytes(out)


FAULTS = r"""
local websocket = require("websocket")
local which, url, ca = arg[1], arg[2], arg[3] ~= "" and arg[3] or nil
local function report(c, err)
  if not c then
    print("connect", err:kind(), err:retryable(), err:message())
    return
  end
  local st, e = c:close_status()
  print("status", st.code, st.reason, st.clean, st.by,
        e and e:kind(), e and e:retryable(), e and e:message())
end
if which == "reset" then
  local c = assert(websocket.connect(url, {ca_file = ca, dial_timeout = "5s"}))
  local ch = c:channel()
  while true do
    local m, okr = ch:receive()
    if not okr then break end
    print("message", m.data)
  end
  report(c)
  print("send", c:send("after"))
elseif which == "violation" then
  local c = assert(websocket.connect(url, {ca_file = ca, read_limit = 4096}))
  local m = c:channel():receive()
  print("message", m.data)
  assert(not select(2, c:channel():receive()))
  report(c)
elseif which == "read-timeout" then
  local c = assert(websocket.connect(url, {ca_file = ca,
                                           read_timeout = "300ms"}))
  local m, okr = c:channel():receive()
  print("receive", m, okr)
  report(c)
elseif which == "write-timeout" then
  local c = assert(websocket.connect(url, {ca_file = ca,
                                           write_timeout = "300ms"}))
  local big, n, okw, err = string.rep("w", 1 << 20), 0, true, nil
  while okw and n < 1000 do
    okw, err = c:send(big)
    if okw then n = n + 1 end
  end
  print("send", okw, err:kind(), err:retryable(), n < 1000)
  report(c)
elseif which == "close-unanswered" then
  local c = assert(websocket.connect(url, {ca_file = ca}))
  print("close", c:close(4001, "bye"))
  report(c)
elseif which == "slowloris" or which == "tls-silent" then
  local c, err = websocket.connect(url, {ca_file = ca,
                                         dial_timeout = "400ms"})
  report(c, err)
end
"""


@pytest.fixture
def faults(lua):
    def run(which, url, ca="", allow=(), opts=(), timeout=60):
        r = lua(FAULTS, which, url, ca, allow=allow, opts=opts,
                timeout=timeout)
        return ok(r).splitlines()
    return run


def _tls(tls, certs):
    return (certs.ca, ["--ca-file", certs.ca]) if tls else ("", [])


TLS = pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])


def _url(srv, tls):
    return srv.url(host="localhost") if tls else srv.url()


async def _violation_script(conn):
    # a message, then a frame over the client's read_limit: the client
    # fails the connection with 1009, the rest of the frame unread
    conn.send(frame(OP_TEXT, "ok") + frame(OP_BINARY, b"x" * 100000))
    await conn.drain()
    await conn.expect_close(10)


async def _reset_script(conn):
    conn.send(frame(OP_TEXT, "whole"))
    head = bytes((0x82, 126)) + struct.pack("!H", 1000)
    conn.send(head + b"x" * 10)        # a frame cut after 10 of 1000 bytes
    await conn.sleep(0.2)
    conn.abort()                       # RST: SO_LINGER 0


@TLS
def test_reset_mid_frame(faults, ws_servers, certs, tls):
    srv = ws_servers.scripted(_reset_script, tls="server" if tls else None)
    ca, opts = _tls(tls, certs)
    out = faults("reset", _url(srv, tls), ca, allow_port(srv), opts)
    assert out[0] == "message\twhole"
    f = out[1].split("\t")
    # network failure: code 1006, not clean, no close frame (no `by`),
    # INTERNAL and retryable
    assert f[:6] == ["status", "1006", "", "false", "nil", "INTERNAL"], out
    assert f[6] == "true"
    assert out[2].startswith("send\tfalse"), out
    assert len(out) == 3
    assert srv.wait_closed()


@TLS
def test_half_open_read_timeout(faults, ws_servers, certs, tls):
    srv = ws_servers._add(HalfOpen(tls=ws_servers._tls(
        "server" if tls else None)))
    ca, opts = _tls(tls, certs)
    out = faults("read-timeout", _url(srv, tls), ca, allow_port(srv), opts)
    assert out[0] == "receive\tnil\tfalse"
    f = out[1].split("\t")
    assert f[:7] == ["status", "1001", "read timeout", "false", "client",
                     "TIMEOUT", "true"], out
    assert "read timeout" in f[7]


@TLS
def test_half_open_write_timeout(faults, ws_servers, certs, tls):
    srv = ws_servers._add(HalfOpen(tls=ws_servers._tls(
        "server" if tls else None)))
    ca, opts = _tls(tls, certs)
    out = faults("write-timeout", _url(srv, tls), ca, allow_port(srv), opts)
    assert out[0] == "send\tfalse\tTIMEOUT\ttrue\ttrue", out
    f = out[1].split("\t")
    assert f[1] == "1006" and f[3] == "false", out
    assert f[5:7] == ["TIMEOUT", "true"] and "write timeout" in f[7], out


def test_half_open_close_unanswered(faults, ws_servers):
    # close() waits for the server's close frame at most 5 s, then ends
    # the connection: not clean, our code kept
    srv = ws_servers._add(HalfOpen())
    out = faults("close-unanswered", srv.url(), allow=allow_port(srv))
    assert out[0] == "close\ttrue", out
    f = out[1].split("\t")
    assert f[1:5] == ["4001", "bye", "false", "client"], out


@TLS
def test_slowloris_handshake(faults, ws_servers, certs, tls):
    srv = ws_servers._add(SlowHandshake(tls=ws_servers._tls(
        "server" if tls else None)))
    ca, opts = _tls(tls, certs)
    out = faults("slowloris", _url(srv, tls), ca, allow_port(srv), opts)
    f = out[0].split("\t")
    assert f[:3] == ["connect", "TIMEOUT", "true"], out
    assert "dial timeout" in f[3] and "handshake response" in f[3], out
    assert srv.wait_closed()


def test_tls_never_completes(faults, ws_servers, certs):
    srv = ws_servers.blackhole()
    url = f"wss://localhost:{srv.port}/"
    out = faults("tls-silent", url, certs.ca,
                 [f"wss://localhost:{srv.port}/*"], ["--ca-file", certs.ca])
    f = out[0].split("\t")
    assert f[:3] == ["connect", "TIMEOUT", "true"], out
    assert "dial timeout" in f[3] and "TLS handshake" in f[3], out
    assert srv.wait_connections(1)
    assert srv.wait_closed()


def test_faults_leak_nothing_under_valgrind(sandlua, tmp_path, ws_servers,
                                            certs):
    # every fault above, plain and TLS, in one process under valgrind:
    # no definite or indirect leak, no memory error
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed")
    if os.environ.get("SANITIZED"):
        pytest.skip("valgrind cannot run a sanitized binary (ASan checks it)")
    script = tmp_path / "faults.lua"
    script.write_text(FAULTS.replace(
        'local which, url, ca = arg[1], arg[2], arg[3] ~= "" and arg[3] or nil',
        'for i = 1, #arg, 3 do\n'
        'local which, url, ca = arg[i], arg[i + 1], '
        'arg[i + 2] ~= "" and arg[i + 2] or nil') + "\nend\n")
    runs = []
    for tls in (False, True):
        t = "server" if tls else None
        ca = certs.ca if tls else ""
        runs += [
            ("reset", ws_servers.scripted(_reset_script, tls=t), ca),
            ("violation", ws_servers.scripted(_violation_script, tls=t), ca),
            ("read-timeout", ws_servers._add(HalfOpen(tls=ws_servers._tls(t))),
             ca),
            ("write-timeout",
             ws_servers._add(HalfOpen(tls=ws_servers._tls(t))), ca),
            ("slowloris",
             ws_servers._add(SlowHandshake(tls=ws_servers._tls(t))), ca),
        ]
    blackhole = ws_servers.blackhole()
    argv, allow = [], ["--allow-url", "ws://127.0.0.1:*/*",
                       "--allow-url", "wss://localhost:*/*"]
    for which, srv, ca in runs:
        argv += [which, srv.url(host="localhost") if ca else srv.url(), ca]
    argv += ["tls-silent", f"wss://localhost:{blackhole.port}/", certs.ca]
    r = subprocess.run(
        ["valgrind", "-q", "--leak-check=full",
         "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
         sandlua, "--unsafe-no-sandbox", "--ca-file", certs.ca, *allow,
         str(script), *argv],
        capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert sum(1 for l in lines if l.startswith("status\t1006")) == 4
    assert sum(1 for l in lines if l.startswith("connect\tTIMEOUT")) == 3
    assert sum(1 for l in lines if l.startswith("status\t1009")) == 2


# ------------------------------------------------- a million messages

MILLION = 1_000_000


async def _million_script(conn):
    for chunk in _million_frames(MILLION):
        conn.send(chunk)
        await conn.drain()
    conn.send(close_frame(1000, "all sent"))
    await conn.drain()
    await conn.expect_close(60)


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return {k: v.strip() for k, v in
                (l.split(":", 1) for l in f if ":" in l)}


def _kib(v):
    return int(v.split()[0])


@TLS
def test_million_messages_slow_consumer(sandlua, tmp_path, ws_servers,
                                        certs, tls):
    # the consumer sleeps every 10,000 messages with a channel of 16: the
    # client stops reading while the channel is full, the server's sends
    # wait on TCP; every message arrives, in order (the checksum agrees),
    # and memory is the same after 900,000 messages as after 100,000
    srv = ws_servers.scripted(_million_script, tls="server" if tls else None)
    ca, opts = _tls(tls, certs)
    script = tmp_path / "m.lua"
    script.write_text(textwrap.dedent("""
        local websocket = require("websocket")
        local ca = arg[2] ~= "" and arg[2] or nil
        local c = assert(websocket.connect(arg[1], {ca_file = ca,
                                                    channel_capacity = 16}))
        local ch, n, sum, bytes = c:channel(), 0, 0, 0
        while true do
          local m, okr = ch:receive()
          if not okr then break end
          assert(m.data == tostring(n), m.data)
          sum = (sum * 31 + tonumber(m.data)) % 4294967291
          bytes = bytes + #m.data
          n = n + 1
          if n % 10000 == 0 then
            time.sleep("1ms")
            if n % 100000 == 0 then
              print("at", n) io.stdout:flush()
              io.read("l")  -- the test samples our memory meanwhile
            end
          end
        end
        local st = c:close_status()
        print("end", n, sum, bytes, st.code, st.reason, st.clean)
    """))
    p = subprocess.Popen([sandlua, *opts, "--allow-url",
                          f"{srv.scheme}://localhost:{srv.port}/*",
                          "--allow-url",
                          f"{srv.scheme}://127.0.0.1:{srv.port}/*",
                          str(script), _url(srv, tls), ca],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    rss = {}
    try:
        while True:
            line = p.stdout.readline()
            if not line.startswith("at\t"):
                break
            n = int(line.split("\t")[1])
            st = _status(p.pid)
            rss[n] = (_kib(st["VmRSS"]), _kib(st["VmHWM"]))
            p.stdin.write("\n")
            p.stdin.flush()
        p.wait(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    assert p.returncode == 0, err
    s, b = 0, 0
    for i in range(MILLION):
        s = (s * 31 + i) % 4294967291
        b += len(str(i))
    assert line.split("\t") == ["end", str(MILLION), str(s), str(b), "1000",
                                "all sent", "true\n"], line + err
    assert sorted(rss) == list(range(100000, MILLION + 1, 100000))
    if os.environ.get("SANITIZED"):
        return  # ASan's quarantine of freed blocks grows up to 256 MiB
    early_rss, early_peak = rss[100000]
    late_rss, late_peak = rss[900000]
    # flat: no growth with the count (a leak of even 16 bytes a message
    # would add 12 MiB here); a little slack for the allocator and GC
    assert late_rss <= early_rss * 1.2 + 2048, rss
    assert late_peak <= early_peak * 1.2 + 2048, rss
