"""SIGPIPE as lua5.4 has it: output into a pipe whose reader has gone ends
sandlua at once by the signal (141 in the shell), while a WebSocket peer
that goes away is an error of that connection, never the signal.  No timed
assertions: the timeouts only guard against a hang."""
import signal
import subprocess
import textwrap

import pytest

from test_websocket import allow_port, loopback_policy, lua, ok  # noqa: F401

LOOPS = {
    "print-forever": "while true do print(1) end",
    "print-1e7": "for i = 1, 1e7 do print(i) end",
    "io.write": "while true do io.write('x\\n') end",
    "io.stdout:write": "while true do io.stdout:write('x\\n') end",
    # pcall cannot keep the loop going: the signal is not a Lua error
    "pcall": "while true do pcall(print, 1) end",
}


def _reader_leaves(argv, stream="stdout"):
    """Start argv, read one line of `stream`, close our end of it: the
    process's returncode (negative: the signal that ended it)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    out = getattr(p, stream)
    line = out.readline()
    out.close()
    try:
        rc = p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    other = p.stderr if stream == "stdout" else p.stdout
    rest = other.read()
    other.close()
    return rc, line, rest


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_output_into_closed_pipe_ends_like_lua54(sandlua, lua54, name):
    rc, line, err = _reader_leaves([sandlua, "-e", LOOPS[name]])
    assert line.strip() in (b"1", b"x")
    assert rc == -signal.SIGPIPE, (rc, err)
    assert err == b""
    ref, _, _ = _reader_leaves([lua54, "-e", LOOPS[name]])
    assert ref == rc


def test_stderr_into_closed_pipe(sandlua):
    rc, line, _ = _reader_leaves(
        [sandlua, "-e", "while true do io.stderr:write('e\\n') end"],
        stream="stderr")
    assert line == b"e\n"
    assert rc == -signal.SIGPIPE


@pytest.mark.parametrize("cmd", ["while true do print(1) end",
                                 "for i=1,1e7 do print(i) end"])
def test_shell_pipeline_status_141(sandlua, cmd):
    # what a shell user sees: `sandlua -e ... | head -1` ends with 141
    r = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$0" -e "$1" | head -1; '
         'echo "status=${PIPESTATUS[0]}"', sandlua, cmd],
        capture_output=True, text=True, timeout=60)
    assert r.stdout == "1\nstatus=141\n", r.stdout + r.stderr


def test_signal_even_with_the_event_loop_busy(sandlua, lua, ws_servers,
                                              tmp_path):
    # a WebSocket connection open (the event loop made and running) does
    # not bring back the old "ignored" disposition
    srv = ws_servers.echo()
    script = tmp_path / "w.lua"
    script.write_text(textwrap.dedent("""
        local websocket = require("websocket")
        local c = assert(websocket.connect(arg[1]))
        assert(c:send("hi"))
        assert(c:channel():receive())
        coroutine.spawn(function() while true do c:ping() time.sleep("1ms") end end)
        while true do print("line") time.sleep(0) end
    """))
    rc, line, err = _reader_leaves(
        [sandlua, *sum((["--allow-url", a] for a in allow_port(srv)), []),
         str(script), srv.url()])
    assert line == b"line\n"
    assert rc == -signal.SIGPIPE, err


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_peer_reset_while_sending_is_an_error_not_sigpipe(lua, ws_servers,
                                                          certs, tls):
    # the server resets the connection while we write big messages: send
    # fails with an error the script sees; the process lives on (every
    # socket write passes MSG_NOSIGNAL)
    async def script(conn):
        await conn.recv_frame()   # the first message, then reset
        conn.abort()
    srv = ws_servers.scripted(script, tls="server" if tls else None)
    url = srv.url(host="localhost") if tls else srv.url()
    out = ok(lua("""
        local websocket = require("websocket")
        local c = assert(websocket.connect(arg[1], {ca_file = arg[2] ~= "" and arg[2] or nil}))
        local big = string.rep("x", 1 << 20)
        local sent, ok, err = 0, true, nil
        while ok and sent < 200 do
          ok, err = c:send(big)
          if ok then sent = sent + 1 end
        end
        print("alive", ok, err and err:kind())
        local st = c:close_status()
        print(st and st.code)
    """, url, certs.ca if tls else "", allow=allow_port(srv),
        opts=["--ca-file", certs.ca] if tls else []))
    assert out.splitlines() == ["alive\tfalse\tINTERNAL", "1006"]


class _TruncatingDNS:
    """The fake DNS server over UDP answers every query truncated (TC), so
    c-ares asks again over TCP on the same port, where `mode` "answer"
    answers properly and "reset" reads the query and resets."""

    def __init__(self, ws_servers, records, mode):
        import socket
        import struct
        import threading
        from wsservers import FakeDNS

        class TC(FakeDNS):
            def answer(self, q):
                r = super().answer(q)
                if r is None:
                    return r
                flags = struct.unpack("!H", r[2:4])[0] | 0x0200
                return r[:2] + struct.pack("!H", flags) + r[4:]
        self.plain = FakeDNS(records)   # answers for the TCP side
        self.plain.stop()
        self.tcp_queries = 0
        # the TCP server takes the UDP server's port number: another socket
        # (a client's ephemeral port) may hold it on TCP, then try another
        for _ in range(50):
            self.udp = ws_servers._add(TC(records))
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.sock.bind(("127.0.0.1", self.udp.port))
                break
            except OSError:
                self.sock.close()
        else:
            raise OSError("no port free for both UDP and TCP")
        self.sock.listen(64)

        def serve():
            while True:
                try:
                    s, _ = self.sock.accept()
                except OSError:
                    return
                with s:
                    try:
                        while True:
                            n = s.recv(2, socket.MSG_WAITALL)
                            if len(n) < 2:
                                break
                            q = s.recv(struct.unpack("!H", n)[0],
                                       socket.MSG_WAITALL)
                            self.tcp_queries += 1
                            if mode == "reset":
                                s.setsockopt(socket.SOL_SOCKET,
                                             socket.SO_LINGER,
                                             struct.pack("ii", 1, 0))
                                break
                            a = self.plain.answer(q)
                            s.sendall(struct.pack("!H", len(a)) + a)
                    except OSError:
                        pass
        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("mode", ["answer", "reset"])
def test_dns_over_tcp(lua, ws_servers, tmp_path, mode):
    # DNS over TCP (after a truncated UDP answer) writes with sendmsg and
    # MSG_NOSIGNAL: answers arrive; a server that resets is a failed
    # lookup of those connects, and the process lives on
    srv = ws_servers.echo()
    dns = _TruncatingDNS(ws_servers, {"tcp.test": ["127.0.0.1"]}, mode)
    try:
        out = ok(lua("""
            local websocket = require("websocket")
            local done = channel.new(20)
            for i = 1, 20 do
              coroutine.spawn(function()
                local c, err = websocket.connect(arg[1], {dial_timeout = "5s"})
                if c then c:close() end
                done:send(c and "ok" or err:kind())
              end)
            end
            local seen = {}
            for i = 1, 20 do local r = done:receive() seen[r] = (seen[r] or 0) + 1 end
            for k, v in pairs(seen) do print(k, v) end
            print("alive")
        """, f"ws://tcp.test:{srv.port}/",
            opts=["--dns-server", dns.udp.server, "--policy",
                  str(loopback_policy(tmp_path, "ws://*:*/*"))]))
    finally:
        dns.close()
    assert dns.tcp_queries > 0
    if mode == "answer":
        assert out.splitlines() == ["ok\t20", "alive"]
    else:
        assert out.splitlines()[-1] == "alive"
        assert "ok" not in out
