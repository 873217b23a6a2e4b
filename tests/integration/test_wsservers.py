"""Self-tests of the WebSocket test servers (wsservers.py), using Python's
own websockets client, so the toolkit is trusted before the C client uses
it."""
import asyncio
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys

import pytest
import websockets

from wsservers import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT,
                       Deflater, Inflater, ScriptedServer, close_frame,
                       dns_query, frame, free_port, ws_accept)

HERE = os.path.dirname(os.path.abspath(__file__))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_echo_text_binary_and_headers(echo_server):
    async def go():
        async with websockets.connect(
                echo_server.url("/chat?room=1"),
                extra_headers={"X-Test": "yes"}) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send(b"\x00\x01\xff")
            assert await ws.recv() == b"\x00\x01\xff"
    run(go())
    assert echo_server.wait_closed()
    c = echo_server.connections[0]
    assert c.path == "/chat?room=1"
    assert c.header("x-test") == "yes"
    assert c.header("Host") == f"127.0.0.1:{echo_server.port}"
    assert c.messages == ["hello", b"\x00\x01\xff"]
    assert c.close_code == 1000


def test_echo_subprotocols(ws_servers):
    srv = ws_servers.echo(subprotocols=["chat.v2", "chat.v1"])

    async def go():
        async with websockets.connect(srv.url(),
                                      subprotocols=["chat.v1", "x"]) as ws:
            assert ws.subprotocol == "chat.v1"
        async with websockets.connect(srv.url()) as ws:
            assert ws.subprotocol is None
    run(go())
    assert srv.wait_connections(2)
    assert srv.connections[0].subprotocol == "chat.v1"
    assert srv.connections[0].header("Sec-WebSocket-Protocol") == "chat.v1, x"


@pytest.mark.parametrize("compression,negotiated", [
    ("deflate", "permessage-deflate"),
    (None, None),
    ({"server_no_context_takeover": True,
      "client_no_context_takeover": True},
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover"),
])
def test_echo_compression(ws_servers, compression, negotiated):
    srv = ws_servers.echo(compression=compression)

    async def go():
        async with websockets.connect(srv.url(), compression="deflate") as ws:
            await ws.send("a" * 5000)
            assert await ws.recv() == "a" * 5000
            return ws.response_headers.get("Sec-WebSocket-Extensions")
    got = run(go())
    assert srv.wait_connections(1)
    ext = srv.connections[0].extensions
    if negotiated is None:
        assert ext is None and got is None
    else:
        assert ext is not None and ext.startswith(negotiated)
        assert got == ext


def test_echo_commands(echo_server):
    async def go():
        async with websockets.connect(echo_server.url()) as ws:
            await ws.send("!stream 3 10")
            got = [await ws.recv() for _ in range(3)]
            assert got == ["0:xxxxxxxx", "1:xxxxxxxx", "2:xxxxxxxx"]
            await ws.send("!binary 100")
            b = await ws.recv()
            assert isinstance(b, bytes) and len(b) == 100
            await ws.send("!info")
            info = json.loads(await ws.recv())
            assert info["path"] == "/"
            await ws.send("!close 4001 going away")
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
            return ws.close_code, ws.close_reason
    assert run(go()) == (4001, "going away")


def test_tls_good_and_bad_certificates(ws_servers, certs):
    good = ws_servers.echo(tls="server")
    bad = {kind: ws_servers.echo(tls=kind)
           for kind in ("expired", "wrong_host", "unknown_ca")}
    client = certs.client_context()

    async def go():
        for host in ("localhost", "127.0.0.1"):
            async with websockets.connect(good.url(host=host),
                                          ssl=client) as ws:
                await ws.send("secret")
                assert await ws.recv() == "secret"
        errors = {}
        for kind, srv in bad.items():
            with pytest.raises(ssl.SSLCertVerificationError) as e:
                await websockets.connect(srv.url(host="localhost"), ssl=client)
            errors[kind] = e.value.verify_message
        return errors
    errors = run(go())
    assert good.url().startswith("wss://")
    assert errors == {"expired": "certificate has expired",
                      "wrong_host": "Hostname mismatch, certificate is not "
                                    "valid for 'localhost'.",
                      "unknown_ca": "unable to get local issuer certificate"}


def raw_request(port, path="/"):
    """Send an upgrade request on a plain socket; return the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: "
                  "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  "\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data.decode()
            data += chunk


def test_http_403_and_redirect(ws_servers):
    forbidden = ws_servers.http(403, body="no\n")
    target = ws_servers.echo()
    moved = ws_servers.redirect(target.url("/elsewhere"))
    reply = raw_request(forbidden.port, "/ws")
    assert reply.startswith("HTTP/1.1 403 Forbidden\r\n")
    assert reply.endswith("\r\n\r\nno\n")
    assert forbidden.connections[0].path == "/ws"
    reply = raw_request(moved.port)
    assert reply.startswith("HTTP/1.1 302 Found\r\n")
    assert f"Location: {target.url('/elsewhere')}\r\n" in reply

    async def go():
        with pytest.raises(websockets.InvalidStatusCode) as e:
            await websockets.connect(forbidden.url())
        return e.value.status_code
    assert run(go()) == 403


def test_blackhole_dial_timeout(ws_servers):
    srv = ws_servers.blackhole()

    async def go():
        with pytest.raises(asyncio.TimeoutError):
            await websockets.connect(srv.url(), open_timeout=0.3)
    run(go())
    assert srv.accepted == 1


def test_silent_after_handshake(ws_servers):
    srv = ws_servers.silent()

    async def go():
        ws = await websockets.connect(srv.url(), close_timeout=0.2)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        pong = await ws.ping()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(pong, 0.2)
        await ws.close()
        return ws.close_code
    assert run(go()) == 1006  # no close reply from the server
    assert srv.wait_connections(1)
    kinds = [f["opcode"] for f in srv.connections[0].frames]
    assert kinds[:2] == [OP_PING, OP_CLOSE]
    assert srv.connections[0].close_code == 1000


@pytest.mark.parametrize("mode", ["rst", "fin"])
def test_drop_after_messages(ws_servers, mode):
    srv = ws_servers.drop(messages=["one", "two"], mode=mode)

    async def go():
        ws = await websockets.connect(srv.url())
        got = [await ws.recv(), await ws.recv()]
        with pytest.raises(websockets.ConnectionClosedError):
            await ws.recv()
        return got, ws.close_code
    assert run(go()) == (["one", "two"], 1006)


def test_scripted_frames(ws_servers):
    srv = ws_servers.scripted(ScriptedServer.steps(
        frame(OP_TEXT, "hi"),
        frame(OP_TEXT, "frag", fin=False), frame(OP_PING, "p"),
        frame(0, "mented"),
        frame(OP_BINARY, b"x" * 200, length_bytes=8),  # non-minimal length
        ("recv",),                                     # the pong
        close_frame(1000, "bye"),
        ("expect_close",)))

    async def go():
        async with websockets.connect(srv.url()) as ws:
            got = [await ws.recv() for _ in range(3)]
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.recv()
            return got, ws.close_code, ws.close_reason
    assert run(go()) == (["hi", "fragmented", b"x" * 200], 1000, "bye")
    assert srv.wait_closed()
    assert srv.errors == []
    c = srv.connections[0]
    assert c.frames[0]["opcode"] == OP_PONG and c.frames[0]["payload"] == b"p"
    assert all(f["masked"] for f in c.frames)
    assert c.close_code == 1000


def test_scripted_protocol_error(ws_servers):
    srv = ws_servers.scripted(ScriptedServer.steps(
        frame(3, "reserved opcode"), ("expect_close",)))

    async def go():
        async with websockets.connect(srv.url()) as ws:
            with pytest.raises(websockets.ConnectionClosedError):
                await ws.recv()
    run(go())
    assert srv.wait_closed()
    assert srv.connections[0].close_code == 1002


@pytest.mark.parametrize("takeover", [True, False])
def test_scripted_compressed(ws_servers, takeover):
    ext = "permessage-deflate" + \
        ("" if takeover else "; server_no_context_takeover")
    d = Deflater(no_context_takeover=not takeover)
    inflate = Inflater()
    first, second = d.compress("hello hello"), d.compress("hello hello")
    # With context takeover the repeat is a back-reference: shorter.
    assert (len(second) < len(first)) == takeover

    async def script(conn):
        conn.send(frame(OP_TEXT, first, rsv1=True))
        conn.send(frame(OP_TEXT, second, rsv1=True))
        conn.send(frame(OP_TEXT, "plain"))   # uncompressed on a PMD link
        f = await conn.recv_frame()
        conn.info.messages.append(inflate.decompress(f["payload"])
                                  if f["rsv1"] else f["payload"])
        conn.send(close_frame(1000))
        await conn.expect_close()
    srv = ws_servers.scripted(script, extensions=ext)

    async def go():
        async with websockets.connect(srv.url(), compression="deflate") as ws:
            got = [await ws.recv() for _ in range(3)]
            await ws.send("z" * 1000)
            with pytest.raises(websockets.ConnectionClosedOK):
                await ws.recv()
            return got
    assert run(go()) == ["hello hello"] * 2 + ["plain"]
    assert srv.wait_closed()
    assert srv.errors == []
    assert srv.connections[0].messages == [b"z" * 1000]


def test_script_errors_are_kept(ws_servers):
    async def script(conn):
        raise RuntimeError("script bug")
    srv = ws_servers.scripted(script)

    async def go():
        ws = await websockets.connect(srv.url())
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    run(go())
    assert srv.wait_closed()
    assert [str(e) for e in srv.errors] == ["script bug"]


def test_scripted_handshake_options(ws_servers):
    srv = ws_servers.scripted(None, accept="d3Jvbmc=")

    async def go():
        with pytest.raises(websockets.InvalidHandshake):
            await websockets.connect(srv.url())
    run(go())
    assert ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == \
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="   # RFC 6455 section 1.3


def test_frame_builder():
    assert frame(OP_TEXT, "") == b"\x81\x00"
    assert frame(OP_TEXT, "a" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert frame(OP_BINARY, b"a" * 70000)[:10] == \
        b"\x82\x7f" + struct.pack("!Q", 70000)
    assert frame(OP_TEXT, "x", fin=False, rsv2=True, rsv3=True) == b"\x31\x01x"
    assert frame(OP_TEXT, "ab", mask=b"\x01\x02\x03\x04") == \
        b"\x81\x82\x01\x02\x03\x04" + bytes([ord("a") ^ 1, ord("b") ^ 2])
    assert close_frame() == b"\x88\x00"
    assert close_frame(1001, "x") == b"\x88\x03\x03\xe9x"


def test_price_stream(ws_servers):
    srv = ws_servers.price(interval=0.01)

    async def go():
        async with websockets.connect(srv.url("/prices")) as ws:
            await ws.send(json.dumps({"action": "subscribe",
                                      "symbols": ["BTC-USD", "ETH-USD"]}))
            return [json.loads(await ws.recv()) for _ in range(6)]
    updates = run(go())
    assert {u["symbol"] for u in updates} == {"BTC-USD", "ETH-USD"}
    assert all(isinstance(u["value"], float) for u in updates)


def test_price_server_standalone():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "wsservers.py"),
                          "price", "--interval", "0.01"],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("PORT ")
        port = int(line.split()[1])

        async def go():
            async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send('{"action":"subscribe","symbols":["X"]}')
                return json.loads(await ws.recv())
        assert run(go())["symbol"] == "X"
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(5)


def dns_ask(server, name, qtype, timeout=1.0):
    """(rcode, [addresses]) from the fake server, or None on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        q = dns_query(name, qtype, qid=0x1234)
        s.sendto(q, ("127.0.0.1", server.port))
        try:
            r = s.recv(512)
        except socket.timeout:
            return None
    assert r[:2] == b"\x12\x34" and r[2] & 0x80  # same id, a response
    rcode = r[3] & 0x0F
    count = struct.unpack("!H", r[6:8])[0]
    pos = len(q)
    addrs = []

    def skip_name(p):
        while r[p] != 0 and r[p] < 0xC0:
            p += 1 + r[p]
        return p + (2 if r[p] >= 0xC0 else 1)

    def read_name(p):
        labels = []
        while r[p] != 0:
            labels.append(r[p + 1:p + 1 + r[p]].decode())
            p += 1 + r[p]
        return ".".join(labels)

    for _ in range(count):
        pos = skip_name(pos)
        t, _cls, _ttl, n = struct.unpack("!HHIH", r[pos:pos + 10])
        data = r[pos + 10:pos + 10 + n]
        if t == 5:
            addrs.append("CNAME:" + read_name(pos + 10))
        else:
            fam = socket.AF_INET6 if t == 28 else socket.AF_INET
            addrs.append(socket.inet_ntop(fam, data))
        pos += 10 + n
    return rcode, addrs


def test_fake_dns(ws_servers, fake_dns):
    assert dns_ask(fake_dns, "localhost.test", 1) == (0, ["127.0.0.1"])
    assert dns_ask(fake_dns, "LOCALHOST.test.", 28) == (0, ["::1"])
    assert dns_ask(fake_dns, "v4.test", 28) == (0, [])   # no AAAA
    assert dns_ask(fake_dns, "nope.test", 1) == (3, [])  # NXDOMAIN
    assert ("nope.test", 1) in fake_dns.queries
    assert fake_dns.server == f"127.0.0.1:{fake_dns.port}"
    other = ws_servers.dns({"a.test": ["192.0.2.1", "192.0.2.2"]},
                           silent=["slow.test"], rcodes={"bad.test": 5})
    assert dns_ask(other, "a.test", 1) == (0, ["192.0.2.1", "192.0.2.2"])
    assert dns_ask(other, "bad.test", 1) == (5, [])
    assert dns_ask(other, "slow.test", 1, timeout=0.2) is None
    chain = ws_servers.dns({"x.test": ["CNAME:y.test"], "y.test":
                            ["CNAME:z.test"], "z.test": ["192.0.2.9"]})
    assert dns_ask(chain, "x.test", 1) == (
        0, ["CNAME:y.test", "CNAME:z.test", "192.0.2.9"])


def test_free_port_refuses():
    port = free_port()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_echo_many_connections(echo_server):
    async def one(i):
        async with websockets.connect(echo_server.url(),
                                      compression=None) as ws:
            await ws.send(f"n{i}")
            return await ws.recv()

    async def go():
        return await asyncio.gather(*(one(i) for i in range(300)))
    assert run(go()) == [f"n{i}" for i in range(300)]
    assert echo_server.accepted == 300
