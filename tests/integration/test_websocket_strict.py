"""Strict conformance of the WebSocket client at the edges a single read
creates: messages that arrive together with the frame that breaks the
protocol (even in the same TCP write as the handshake response, plain and
over TLS), and empty messages under permessage-deflate, sent and received.
Real servers from wsservers.py; the lua/ok helpers of test_websocket.py."""
import asyncio

import pytest

from test_websocket import allow_port, echo_script, lua, ok  # noqa: F401
from wsservers import OP_BINARY, OP_CONT, OP_PING, OP_TEXT, Deflater, frame

READ_ALL = """
local ch, n = c:channel(), 0
while true do
  local m, okr = ch:receive()
  if not okr then break end
  n = n + 1
  print(n, m.type, m.data)
end
local st, err = c:close_status()
print("END", st.code, st.clean, st.by, err and err:kind())
"""

BAD = {
    "rsv2": (frame(OP_TEXT, "x", rsv2=True), 1002),
    "opcode": (frame(5, b""), 1002),
    "utf8": (frame(OP_TEXT, b"ok\xff"), 1007),
    "deflate": (frame(OP_BINARY, b"\xff\xff\xff\xff", rsv1=True), 1007),
    "too-big": (frame(OP_BINARY, b"x" * 5000), 1009),
}


def _messages():
    d = Deflater()
    return b"".join([
        frame(OP_TEXT, "one"),
        frame(OP_BINARY, b"two", fin=False), frame(OP_PING, b"p"),
        frame(OP_CONT, b"2"),
        frame(OP_TEXT, d.compress("three"), rsv1=True),
        frame(OP_BINARY, d.compress(b""), rsv1=True),
    ])


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
@pytest.mark.parametrize("bad", sorted(BAD))
def test_messages_before_failure_in_one_write(lua, ws_servers, certs, tls,
                                              bad):
    # the 101 response, four messages and the bad frame in one write: the
    # script gets every message, in order, then the close of the failure
    data, code = BAD[bad]

    async def script(conn):
        try:
            await conn.expect_close(5)
        except Exception:
            pass
    srv = ws_servers.scripted(script, extensions="permessage-deflate",
                              initial=_messages() + data,
                              tls="server" if tls else None)
    url = srv.url(host="localhost") if tls else srv.url()
    opts = ("{compression = 'context_takeover', read_limit = 4096, "
            "ca_file = arg[2] ~= '' and arg[2] or nil}")
    out = ok(lua(echo_script(opts, READ_ALL), url,
                 certs.ca if tls else "", allow=allow_port(srv),
                 opts=["--ca-file", certs.ca] if tls else []))
    assert out.splitlines() == [
        "1\ttext\tone", "2\tbinary\ttwo2", "3\ttext\tthree", "4\tbinary\t",
        f"END\t{code}\tfalse\tclient\tINTERNAL"]
    assert srv.wait_closed()
    assert srv.errors == []
    assert srv.connections[0].close_code == code


def test_empty_compressed_messages_echo(lua, ws_servers):
    # empty messages, compressed (threshold 0), one after another and
    # between others: all go out and come back; the close is clean
    srv = ws_servers.echo()
    out = ok(lua(echo_script(
        "{compression = 'context_takeover', compression_threshold = 0}", """
        local ch = c:channel()
        local T, B = websocket.TEXT, websocket.BINARY
        for i, m in ipairs({{"", T}, {"", B}, {"", T}, {"abc", T}, {"", B},
                            {"", B}, {"abc", B}, {"", T}}) do
          assert(c:send(m[1], m[2]))
          local r = assert(ch:receive())
          print(i, r.type, r.data)
        end
        assert(c:close())
        local st = c:close_status()
        print(st.code, st.clean)
    """), srv.url(), allow=allow_port(srv)))
    assert out.splitlines() == [
        "1\ttext\t", "2\tbinary\t", "3\ttext\t", "4\ttext\tabc",
        "5\tbinary\t", "6\tbinary\t", "7\tbinary\tabc", "8\ttext\t",
        "1000\ttrue"]
    info = srv.connections[0]
    assert info.extensions.startswith("permessage-deflate")


@pytest.mark.parametrize("mode", ["context_takeover", "no_context_takeover"])
def test_empty_compressed_messages_received(lua, ws_servers, mode):
    # the server's empty compressed messages (one 0x00 byte each, RFC 7692
    # 7.2.3.6), text and binary, then one that refers back
    nct = mode == "no_context_takeover"
    d = Deflater(no_context_takeover=nct)
    data = b"".join([frame(OP_TEXT, d.compress("hello"), rsv1=True)] +
                    [frame(op, d.compress(b""), rsv1=True)
                     for op in (OP_TEXT, OP_BINARY, OP_TEXT, OP_BINARY)] +
                    [frame(OP_TEXT, d.compress("hello"), rsv1=True)])

    async def script(conn):
        conn.send(data)
        await conn.expect_close(5)
        conn.send(b"\x88\x02\x03\xe8")
    ext = "permessage-deflate" + ("; server_no_context_takeover; "
                                  "client_no_context_takeover" if nct else "")
    srv = ws_servers.scripted(script, extensions=ext)
    out = ok(lua(echo_script(f"{{compression = '{mode}'}}", """
        local ch = c:channel()
        for i = 1, 6 do
          local r = assert(ch:receive())
          print(i, r.type, r.data)
        end
        assert(c:close())
        print(c:close_status().code)
    """), srv.url(), allow=allow_port(srv)))
    assert out.splitlines() == [
        "1\ttext\thello", "2\ttext\t", "3\tbinary\t", "4\ttext\t",
        "5\tbinary\t", "6\ttext\thello", "1000"]
    assert srv.wait_closed()
    assert srv.errors == []


def test_failure_close_reaches_a_server_that_keeps_sending(lua, ws_servers):
    # the rest of an oversized frame is still unread when we fail the
    # connection: our 1009 close still reaches the server (FIN after it,
    # not RST), and a server that then never ends the TCP connection is
    # cut off after the close wait (at most 5 s)
    ends = []

    async def script(conn):
        conn.send(frame(OP_TEXT, "ok") + frame(OP_BINARY, b"x" * 200000))
        await conn.drain()
        await conn.expect_close(10)
        try:  # what follows our close frame: FIN (EOF) or RST
            ends.append(await asyncio.wait_for(conn.reader.read(1), 10))
        except ConnectionResetError:
            ends.append("RST")
        await conn.sleep(3600)   # no close reply, no FIN
    srv = ws_servers.scripted(script)
    out = ok(lua(echo_script("{read_limit = 4096}", READ_ALL), srv.url(),
                 allow=allow_port(srv)))
    assert out.splitlines() == ["1\ttext\tok",
                                "END\t1009\tfalse\tclient\tINTERNAL"]
    assert srv.connections[0].close_code == 1009
    assert ends == [b""]
