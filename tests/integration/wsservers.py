"""Test servers for the WebSocket client's integration tests.

Developer note.  Every server here listens on 127.0.0.1 on a free port and
runs on one shared asyncio loop in a background daemon thread, so a pytest
test (or a sandlua process it starts) can talk to it while the test thread
inspects what the server saw.  Only Debian's python3-websockets 10.4 and the
standard library are used (run with /usr/bin/python3).

    ws_servers (fixture)  factory; every server it starts is stopped after
                          the test:
        .echo(...)        echo server: subprotocols, permessage-deflate on,
                          off or with parameters, TLS, request recording,
                          "!" commands (close, stream, ...)
        .http(status)     answers the upgrade with any HTTP response (403,
                          302 + Location, ...)
        .blackhole()      accepts TCP, never answers (dial timeout)
        .silent()         completes the handshake, then never sends a byte
                          (read timeout; no pong, no close reply)
        .drop(...)        completes the handshake, maybe sends messages,
                          then drops the TCP connection (FIN or RST)
        .scripted(fn)     raw-socket server: handshake, then your coroutine
                          sends scripted frame bytes (malformed frames and
                          edge cases: the Autobahn categories)
        .price(...)       JSON price stream answering a subscribe message
        .dns(records)     fake DNS over UDP: A/AAAA from a dict
    certs (fixture)       CA + certificates made with the openssl CLI
    echo_server, fake_dns convenience fixtures

Each server records what it saw in `.connections` (ConnInfo: path, headers,
subprotocol, negotiated extensions, frames/messages received, close code),
counts TCP connections in `.accepted` and keeps exceptions raised by its
handler or script in `.errors` (assert it is empty).
Frame helpers: frame(), close_frame(), Deflater, Inflater, read_frame().
Conformance cases for the scripted server (Autobahn categories) are in
wscases.py.

conftest.py imports the fixtures with one line:
    from wsservers import certs, echo_server, fake_dns, ws_servers

Stand-alone (for `make demo`):
    /usr/bin/python3 tests/integration/wsservers.py price [--port N]
    /usr/bin/python3 tests/integration/wsservers.py echo [--port N]
print "PORT <n>" on stdout once listening, then serve until killed.
"""
import asyncio
import base64
import dataclasses
import hashlib
import json
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import zlib

import websockets
from websockets.extensions import permessage_deflate

try:
    import pytest
except ImportError:  # stand-alone use without pytest
    pytest = None

__all__ = [
    "ws_servers", "certs", "echo_server", "fake_dns",
    "Servers", "Certs", "ConnInfo", "frame", "close_frame", "read_frame",
    "Deflater", "Inflater", "ws_accept", "dns_query",
    "OP_CONT", "OP_TEXT", "OP_BINARY", "OP_CLOSE", "OP_PING", "OP_PONG",
]

# Many connections at once (1,000 in one test) need as many descriptors
# in this process as the hard limit allows.
try:
    import resource
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _want = 65536 if _hard == resource.RLIM_INFINITY else min(_hard, 65536)
    if _soft != resource.RLIM_INFINITY and _soft < _want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_want, _hard))
except (ImportError, ValueError, OSError):
    pass

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


# ---------------------------------------------------------------- the loop

class _Loop:
    """One asyncio loop in a daemon thread, shared by every server."""

    _lock = threading.Lock()
    _instance = None

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       name="wsservers", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def run(self, coro, timeout=10):
        """Run coro on the loop; wait for and return its result."""
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)


# ------------------------------------------------------------- recording

@dataclasses.dataclass
class ConnInfo:
    """What a server saw of one client connection."""
    path: str = ""
    headers: list = dataclasses.field(default_factory=list)  # [(name, value)]
    subprotocol: str = None
    extensions: str = None   # the Sec-WebSocket-Extensions answered, or None
    messages: list = dataclasses.field(default_factory=list)  # received data
    frames: list = dataclasses.field(default_factory=list)    # raw servers
    close_code: int = None   # the client's close code, if it sent one
                             # (raw servers: 1005 for an empty payload)
    close_reason: str = None
    closed: bool = False     # the connection has ended

    def header(self, name):
        """The first value of header `name` (any case), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class _Base:
    """A server on the shared loop: .host, .port, .url, .stop()."""

    scheme = "ws"

    def __init__(self):
        self.host = "127.0.0.1"
        self.port = None
        self.connections = []
        self.accepted = 0          # TCP connections accepted
        self.errors = []           # exceptions raised by handlers/scripts
        self._loop = _Loop.get()
        self._server = None
        self._tasks = set()

    def url(self, path="/", host=None):
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def wait_connections(self, n, timeout=5.0):
        """Wait until n connections were seen (True) or timeout (False)."""
        end = time.monotonic() + timeout
        while len(self.connections) < n and time.monotonic() < end:
            time.sleep(0.01)
        return len(self.connections) >= n

    def wait_closed(self, timeout=5.0):
        """Wait until every recorded connection has ended."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(c.closed for c in self.connections):
                return True
            time.sleep(0.01)
        return False

    def _track(self, coro):
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _stop(self):
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except asyncio.TimeoutError:
                pass
        self._server = None

    def stop(self):
        if self._server is not None:
            self._loop.run(self._stop())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ----------------------------------------------------- websockets servers

def _pmd_factories(compression):
    """Extension factories for `compression`: None, "deflate" or a dict of
    ServerPerMessageDeflateFactory arguments (e.g.
    {"server_no_context_takeover": True})."""
    if compression is None:
        return None, None
    if compression == "deflate":
        return "deflate", None
    if isinstance(compression, dict):
        return None, [permessage_deflate.ServerPerMessageDeflateFactory(
            **compression)]
    raise ValueError(f"compression: {compression!r}")


class _WsServer(_Base):
    """Common part of the servers built on websockets.serve()."""

    def __init__(self, tls=None, subprotocols=None, compression="deflate",
                 max_size=None, ping_interval=None, port=0):
        super().__init__()
        self._port = port
        self.tls = tls
        if tls is not None:
            self.scheme = "wss"
        self._opts = dict(subprotocols=subprotocols, max_size=max_size,
                          ping_interval=ping_interval, ssl=tls)
        comp, ext = _pmd_factories(compression)
        self._opts["compression"] = comp
        if ext is not None:
            self._opts["extensions"] = ext
        self._loop.run(self._start())

    async def _start(self):
        self._server = await websockets.serve(
            self._handle, self.host, self._port, **self._opts)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, ws, path=None):
        self.accepted += 1
        info = ConnInfo(path=ws.path, headers=list(ws.request_headers.raw_items()),
                        subprotocol=ws.subprotocol,
                        extensions=ws.response_headers.get(
                            "Sec-WebSocket-Extensions"))
        self.connections.append(info)
        try:
            await self.serve(ws, info)
        except websockets.ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.errors.append(e)
        finally:
            info.close_code = ws.close_code
            info.close_reason = ws.close_reason
            info.closed = True

    async def serve(self, ws, info):
        raise NotImplementedError


class EchoServer(_WsServer):
    """Echoes every message with its type.  With commands=True, a text
    message starting with "!" is a command instead:
        !close CODE [REASON]   close with that code and reason
        !stream N SIZE         send N text messages "<i>:" padded to SIZE
        !binary SIZE           send one binary message of SIZE bytes
        !info                  send JSON of what the server saw
    """

    def __init__(self, commands=True, **kw):
        self.commands = commands
        super().__init__(**kw)

    async def serve(self, ws, info):
        async for msg in ws:
            info.messages.append(msg)
            if self.commands and isinstance(msg, str) and msg.startswith("!"):
                if await self._command(ws, info, msg.split(" ", 2)):
                    return
                continue
            await ws.send(msg)

    async def _command(self, ws, info, words):
        cmd = words[0]
        if cmd == "!close":
            code = int(words[1]) if len(words) > 1 else 1000
            await ws.close(code, words[2] if len(words) > 2 else "")
            return True
        if cmd == "!stream":
            count, size = int(words[1]), int(words[2])
            for i in range(count):
                head = f"{i}:"
                await ws.send(head + "x" * max(0, size - len(head)))
        elif cmd == "!binary":
            await ws.send(os.urandom(int(words[1])))
        elif cmd == "!info":
            await ws.send(json.dumps({
                "path": info.path, "headers": info.headers,
                "subprotocol": info.subprotocol,
                "extensions": info.extensions}))
        else:
            await ws.send("unknown command " + cmd)
        return False


class PriceServer(_WsServer):
    """Price stream for the demo: after a text message
    {"action": "subscribe", "symbols": [...]} it sends
    {"symbol": S, "value": V} for each subscribed symbol every `interval`
    seconds (at most `count` updates in all when count is set)."""

    def __init__(self, interval=0.05, count=None, close_after=False, **kw):
        self.interval = interval
        self.count = count
        self.close_after = close_after  # close (1000) once count were sent
        self.sent = 0
        super().__init__(**kw)

    async def serve(self, ws, info):
        symbols = []
        prices = {}
        feed = None
        try:
            async for msg in ws:
                info.messages.append(msg)
                try:
                    req = json.loads(msg)
                except (TypeError, ValueError):
                    continue
                if isinstance(req, dict) and req.get("action") == "subscribe":
                    for s in req.get("symbols") or []:
                        if isinstance(s, str) and s not in symbols:
                            symbols.append(s)
                            prices[s] = 100.0 + 10 * len(symbols)
                    if feed is None:
                        feed = asyncio.ensure_future(
                            self._feed(ws, symbols, prices))
        finally:
            if feed is not None:
                feed.cancel()

    async def _feed(self, ws, symbols, prices):
        rng = random.Random(1)
        while self.count is None or self.sent < self.count:
            for s in list(symbols):
                if self.count is not None and self.sent >= self.count:
                    break
                prices[s] = round(prices[s] * (1 + rng.uniform(-0.01, 0.01)), 2)
                await ws.send(json.dumps({"symbol": s, "value": prices[s]}))
                self.sent += 1
            await asyncio.sleep(self.interval)
        if self.close_after:
            await ws.close(1000, "end of stream")


# ----------------------------------------------------- raw-socket servers

def ws_accept(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    digest = hashlib.sha1((key + GUID).encode()).digest()
    return base64.b64encode(digest).decode()


def frame(opcode, payload=b"", fin=True, rsv1=False, rsv2=False, rsv3=False,
          mask=None, length_bytes=None):
    """The bytes of one frame.  payload: bytes or str (UTF-8).  mask: None
    (server frames are unmasked) or 4 bytes.  length_bytes: force the
    length encoding (0: 7-bit, 2: 16-bit, 8: 64-bit), even non-minimal."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | \
         (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | (opcode & 0x0F)
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    m = 0x80 if mask is not None else 0
    if length_bytes == 0:
        head = bytes([b0, m | n])
    elif length_bytes == 2:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if mask is not None:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += bytes(mask)
    return head + payload


def close_frame(code=None, reason=b"", **kw):
    """A close frame; code None: empty payload."""
    if isinstance(reason, str):
        reason = reason.encode()
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(OP_CLOSE, payload, **kw)


async def read_frame(reader):
    """Read one frame; returns dict(fin, rsv1, rsv2, rsv3, opcode, masked,
    payload) with the payload unmasked, or None at end of stream."""
    try:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await reader.readexactly(8))[0]
        key = await reader.readexactly(4) if b1 & 0x80 else None
        data = await reader.readexactly(n)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    if key is not None:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return dict(fin=bool(b0 & 0x80), rsv1=bool(b0 & 0x40),
                rsv2=bool(b0 & 0x20), rsv3=bool(b0 & 0x10),
                opcode=b0 & 0x0F, masked=key is not None, payload=data)


class Deflater:
    """permessage-deflate compressor (RFC 7692): compress(data) gives a
    message payload (raw deflate, final 00 00 ff ff removed); set
    no_context_takeover to reset the window after each message."""

    def __init__(self, no_context_takeover=False, window_bits=15):
        self.reset = no_context_takeover
        self.bits = window_bits
        self._z = zlib.compressobj(wbits=-window_bits)

    def compress(self, data):
        if isinstance(data, str):
            data = data.encode()
        out = self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)
        if self.reset:
            self._z = zlib.compressobj(wbits=-self.bits)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


class Inflater:
    """permessage-deflate decompressor for the client's messages."""

    def __init__(self, no_context_takeover=False):
        self.reset = no_context_takeover
        self._z = zlib.decompressobj(wbits=-15)

    def decompress(self, data):
        out = self._z.decompress(data + b"\x00\x00\xff\xff")
        if self.reset:
            self._z = zlib.decompressobj(wbits=-15)
        return out


class RawConn:
    """One connection of a raw server, given to scripts: send(bytes),
    await recv_frame(), await expect_close(), await sleep(s), close(),
    abort(); .info is its ConnInfo, .request_key its Sec-WebSocket-Key."""

    def __init__(self, reader, writer, info):
        self.reader, self.writer, self.info = reader, writer, info
        self.request_key = info.header("Sec-WebSocket-Key")

    def send(self, data):
        self.writer.write(data)

    async def drain(self):
        await self.writer.drain()

    async def recv_frame(self, timeout=5.0):
        """The client's next frame (recorded in info.frames), or None."""
        f = await asyncio.wait_for(read_frame(self.reader), timeout)
        if f is not None:
            self.info.frames.append(f)
            if f["opcode"] == OP_CLOSE:
                p = f["payload"]
                # 1005 ("no status") stands for an empty close payload.
                self.info.close_code = struct.unpack("!H", p[:2])[0] \
                    if len(p) >= 2 else 1005 if not p else None
                self.info.close_reason = p[2:].decode("utf-8", "replace")
        return f

    async def expect_close(self, timeout=5.0):
        """Read frames until the client's close frame; its code (or None
        if the connection ended without one)."""
        while True:
            f = await self.recv_frame(timeout)
            if f is None:
                return None
            if f["opcode"] == OP_CLOSE:
                return self.info.close_code

    async def sleep(self, s):
        await self.writer.drain()
        await asyncio.sleep(s)

    def close(self):
        """Close the TCP connection normally (FIN)."""
        self.writer.close()

    def abort(self):
        """Reset the TCP connection (RST)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        self.writer.transport.abort()


async def _read_request(reader, limit=65536):
    """Read an HTTP request head; (request line, [(name, value)]) or None."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            ConnectionError):
        return None
    if len(head) > limit:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return lines[0], headers


class _RawServer(_Base):
    """asyncio.start_server with per-connection recording."""

    def __init__(self, tls=None):
        super().__init__()
        self.tls = tls
        if tls is not None:
            self.scheme = "wss"
        self._loop.run(self._start())

    async def _start(self):
        self._server = await asyncio.start_server(
            self._on_conn, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    def _on_conn(self, reader, writer):
        self.accepted += 1
        self._track(self._run(reader, writer))

    async def _run(self, reader, writer):
        info = ConnInfo()
        try:
            await self.handle(reader, writer, info)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a script's failure: keep it for the test
            self.errors.append(e)
        finally:
            info.closed = True
            if not writer.is_closing():
                writer.close()

    async def _request(self, reader, info):
        req = await _read_request(reader)
        if req is None:
            return False
        line, headers = req
        parts = line.split(" ")
        info.path = parts[1] if len(parts) > 1 else ""
        info.headers = headers
        self.connections.append(info)
        return True

    async def handle(self, reader, writer, info):
        raise NotImplementedError


class HttpServer(_RawServer):
    """Answers the upgrade request with an HTTP response (e.g. 403, or 302
    with a Location header), then closes."""

    def __init__(self, status=403, reason=None, headers=(), body=b"", **kw):
        self.status = status
        self.reason = reason or {200: "OK", 301: "Moved Permanently",
                                 302: "Found", 307: "Temporary Redirect",
                                 400: "Bad Request", 401: "Unauthorized",
                                 403: "Forbidden", 404: "Not Found",
                                 500: "Internal Server Error",
                                 503: "Service Unavailable"}.get(status, "X")
        self.headers = list(headers.items() if isinstance(headers, dict)
                            else headers)
        self.body = body.encode() if isinstance(body, str) else body
        super().__init__(**kw)

    async def handle(self, reader, writer, info):
        if not await self._request(reader, info):
            return
        head = f"HTTP/1.1 {self.status} {self.reason}\r\n"
        for k, v in self.headers + [("Content-Length", str(len(self.body))),
                                    ("Connection", "close")]:
            head += f"{k}: {v}\r\n"
        writer.write(head.encode() + b"\r\n" + self.body)
        await writer.drain()


class BlackholeServer(_RawServer):
    """Accepts TCP connections and never answers (keeps them open)."""

    async def handle(self, reader, writer, info):
        self.connections.append(info)
        while await reader.read(65536):
            pass


class ScriptedServer(_RawServer):
    """Raw WebSocket server: answers the handshake itself (101 with the
    right accept, or accept=<text> to send a wrong one; optional
    `extensions` and `protocol` response headers, `extra_headers`;
    `initial` bytes go out in the same write as the response), then
    awaits script(conn) with a RawConn.  The connection is closed when the
    script returns (unless it did)."""

    def __init__(self, script=None, extensions=None, protocol=None,
                 accept=None, extra_headers=(), initial=b"", **kw):
        self.script = script
        self.initial = initial
        self.extensions = extensions
        self.protocol = protocol
        self.accept = accept
        self.extra_headers = list(extra_headers)
        super().__init__(**kw)

    async def handle(self, reader, writer, info):
        if not await self._request(reader, info):
            return
        key = info.header("Sec-WebSocket-Key") or ""
        head = ("HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {self.accept or ws_accept(key)}\r\n")
        if self.extensions:
            head += f"Sec-WebSocket-Extensions: {self.extensions}\r\n"
            info.extensions = self.extensions
        if self.protocol:
            head += f"Sec-WebSocket-Protocol: {self.protocol}\r\n"
            info.subprotocol = self.protocol
        for k, v in self.extra_headers:
            head += f"{k}: {v}\r\n"
        writer.write(head.encode() + b"\r\n" + self.initial)
        await writer.drain()
        conn = RawConn(reader, writer, info)
        if self.script is not None:
            await self.script(conn)
        await writer.drain()

    @staticmethod
    def steps(*items):
        """A script from a list: bytes are sent; ("sleep", s); ("recv",)
        reads one frame; ("expect_close",) reads until the close frame;
        ("close",) FIN; ("abort",) RST."""
        async def script(conn):
            for it in items:
                if isinstance(it, (bytes, bytearray)):
                    conn.send(bytes(it))
                elif it[0] == "sleep":
                    await conn.sleep(it[1])
                elif it[0] == "recv":
                    await conn.recv_frame()
                elif it[0] == "expect_close":
                    await conn.drain()
                    await conn.expect_close()
                elif it[0] == "close":
                    await conn.drain()
                    conn.close()
                    return
                elif it[0] == "abort":
                    await conn.drain()
                    conn.abort()
                    return
                else:
                    raise ValueError(f"unknown step {it!r}")
                await conn.drain()
        return script


class SilentServer(ScriptedServer):
    """Completes the handshake, then sends nothing at all (no pong, no
    close reply); reads and records the client's frames until it leaves."""

    def __init__(self, **kw):
        async def script(conn):
            while await conn.recv_frame(timeout=3600) is not None:
                pass
        super().__init__(script=script, **kw)


class DropServer(ScriptedServer):
    """Completes the handshake, sends `messages` text messages, waits
    `delay` seconds, then drops the connection: mode "rst" (reset) or
    "fin" (close without a close frame)."""

    def __init__(self, messages=(), delay=0.0, mode="rst", **kw):
        if mode not in ("rst", "fin"):
            raise ValueError("mode: rst or fin")

        async def script(conn):
            for m in messages:
                conn.send(frame(OP_TEXT, m))
            await conn.sleep(delay)
            conn.abort() if mode == "rst" else conn.close()
        super().__init__(script=script, **kw)


# ------------------------------------------------------------- fake DNS

def dns_query(name, qtype, qid=None):
    """A DNS query packet (qtype 1 = A, 28 = AAAA), recursion desired."""
    qid = random.getrandbits(16) if qid is None else qid
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", qtype, 1)


def _wire_name(name):
    return b"".join(bytes([len(p)]) + p.encode()
                    for p in name.rstrip(".").split(".")) + b"\x00"


class FakeDNS(asyncio.DatagramProtocol):
    """UDP DNS server: records = {name: [ip, ...]} (A for IPv4, AAAA for
    IPv6 addresses; "CNAME:target" makes name an alias); other names get
    NXDOMAIN; names in `silent` get no
    answer; rcodes = {name: rcode} forces a response code (2 SERVFAIL,
    5 REFUSED).  .queries lists (name, qtype) received; .port, .server
    ("127.0.0.1:PORT" for --dns-server)."""

    def __init__(self, records=None, silent=(), rcodes=None, ttl=60):
        self.records = {k.lower().rstrip("."): list(v)
                        for k, v in (records or {}).items()}
        self.silent = {s.lower().rstrip(".") for s in silent}
        self.rcodes = {k.lower().rstrip("."): v
                       for k, v in (rcodes or {}).items()}
        self.ttl = ttl
        self.queries = []
        self.transport = None
        self.port = None
        self._loop = _Loop.get()
        self._loop.run(self._start())

    async def _start(self):
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self.transport.get_extra_info("sockname")[1]

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def datagram_received(self, data, addr):
        reply = self.answer(data)
        if reply is not None:
            self.transport.sendto(reply, addr)

    def answer(self, q):
        """The reply to query packet q, or None (no answer)."""
        if len(q) < 17:
            return None
        pos, labels = 12, []
        while pos < len(q) and q[pos] != 0:
            n = q[pos]
            labels.append(q[pos + 1:pos + 1 + n].decode("latin-1"))
            pos += 1 + n
        if pos + 5 > len(q):
            return None
        qtype = struct.unpack("!H", q[pos + 1:pos + 3])[0]
        question = q[12:pos + 5]
        name = ".".join(labels).lower()
        self.queries.append((name, qtype))
        if name in self.silent:
            return None
        answers = []
        # "CNAME:target" entries: the chain first, then the target's
        # addresses under the target's own name
        owner, hops = name, 0
        while hops < 8 and any(str(v).startswith("CNAME:")
                               for v in self.records.get(owner, [])):
            target = next(v for v in self.records[owner]
                          if v.startswith("CNAME:"))[6:].lower()
            rdata = _wire_name(target)
            answers.append(_wire_name(owner) + struct.pack(
                "!HHIH", 5, 1, self.ttl, len(rdata)) + rdata)
            owner, hops = target, hops + 1
        if owner in self.records:
            rcode = 0
            for ip in self.records[owner]:
                if ip.startswith("CNAME:"):
                    continue
                fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
                t = 28 if fam == socket.AF_INET6 else 1
                if t == qtype:
                    rdata = socket.inet_pton(fam, ip)
                    answers.append(_wire_name(owner) + struct.pack(
                        "!HHIH", t, 1, self.ttl, len(rdata)) + rdata)
        else:
            rcode = 3
        rcode = self.rcodes.get(name, rcode)
        flags = 0x8000 | (struct.unpack("!H", q[2:4])[0] & 0x0100) | 0x0080 \
            | rcode
        head = q[:2] + struct.pack("!HHHHH", flags, 1, len(answers), 0, 0)
        return head + question + b"".join(answers)

    def stop(self):
        if self.transport is not None:
            self._loop.loop.call_soon_threadsafe(self.transport.close)
            self.transport = None


# ------------------------------------------------------------ certificates

class Certs:
    """Certificates made with the openssl CLI into `folder`:
        ca                  CA certificate (trust this one)
        server              localhost, 127.0.0.1, ::1 (signed by ca)
        expired             the same names, expired in 2020
        wrong_host          wrong.example only
        unknown_ca          localhost, 127.0.0.1 signed by another CA
        other_ca            that other CA's certificate
    Each leaf is a (cert_path, key_path) pair; context(kind) gives a server
    ssl.SSLContext, client_context() one trusting ca."""

    def __init__(self, folder):
        self.dir = str(folder)
        self.ca = self._make_ca("ca", "sandlua test CA")
        self.other_ca = self._make_ca("other-ca", "sandlua unknown CA")
        local = "DNS:localhost,IP:127.0.0.1,IP:::1"
        self.server = self._leaf("server", "ca", "localhost", local)
        self.expired = self._leaf("expired", "ca", "localhost", local,
                                  dates=("20200101000000Z", "20200102000000Z"))
        self.wrong_host = self._leaf("wrong-host", "ca", "wrong.example",
                                     "DNS:wrong.example")
        self.unknown_ca = self._leaf("unknown-ca", "other-ca", "localhost",
                                     local)

    def _p(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, cwd=self.dir,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _make_ca(self, name, cn):
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", f"{name}.key", "-out", f"{name}.pem",
                      "-days", "30", "-subj", f"/CN={cn}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        db = self._p(f"{name}-db")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(self._p(f"{name}.cnf"), "w") as f:
            f.write(f"""[ ca ]
default_ca = CA_default
[ CA_default ]
database = {db}/index.txt
new_certs_dir = {db}
rand_serial = yes
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
""")
        return self._p(f"{name}.pem")

    def _leaf(self, name, ca, cn, san, dates=None):
        self._openssl("req", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", f"{name}.key", "-out", f"{name}.csr",
                      "-subj", f"/CN={cn}")
        with open(self._p(f"{name}.ext"), "w") as f:
            f.write("[ ext ]\nbasicConstraints = critical,CA:FALSE\n"
                    "extendedKeyUsage = serverAuth\n"
                    f"subjectAltName = {san}\n")
        when = ["-startdate", dates[0], "-enddate", dates[1]] if dates \
            else ["-days", "30"]
        self._openssl("ca", "-batch", "-config", f"{ca}.cnf",
                      "-cert", f"{ca}.pem", "-keyfile", f"{ca}.key",
                      "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext",
                      "-extfile", f"{name}.ext", "-extensions", "ext", *when)
        return self._p(f"{name}.pem"), self._p(f"{name}.key")

    def context(self, kind="server"):
        """A server SSLContext presenting certificate `kind`."""
        cert, key = getattr(self, kind)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def client_context(self):
        """A client SSLContext trusting only the test CA."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca)
        return ctx


# -------------------------------------------------------------- factory

class Servers:
    """Starts servers and stops them all in close().  `certs` is needed
    for tls="server"/"expired"/... (a name) arguments."""

    def __init__(self, certs=None):
        self._certs = certs
        self._all = []

    def _tls(self, tls):
        if isinstance(tls, str):
            if self._certs is None:
                raise ValueError("TLS by name needs the certs fixture")
            return self._certs.context(tls)
        return tls

    def _add(self, s):
        self._all.append(s)
        return s

    def echo(self, tls=None, **kw):
        return self._add(EchoServer(tls=self._tls(tls), **kw))

    def price(self, tls=None, **kw):
        return self._add(PriceServer(tls=self._tls(tls), **kw))

    def http(self, status=403, tls=None, **kw):
        return self._add(HttpServer(status=status, tls=self._tls(tls), **kw))

    def redirect(self, location, status=302, **kw):
        return self.http(status=status, headers={"Location": location}, **kw)

    def blackhole(self, **kw):
        return self._add(BlackholeServer(**kw))

    def silent(self, tls=None, **kw):
        return self._add(SilentServer(tls=self._tls(tls), **kw))

    def drop(self, tls=None, **kw):
        return self._add(DropServer(tls=self._tls(tls), **kw))

    def scripted(self, script=None, tls=None, **kw):
        return self._add(ScriptedServer(script=script, tls=self._tls(tls),
                                        **kw))

    def dns(self, records=None, **kw):
        return self._add(FakeDNS(records, **kw))

    def close(self):
        for s in reversed(self._all):
            s.stop()
        self._all.clear()


def free_port():
    """A TCP port that was free a moment ago (for "nothing listens here")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if pytest is not None:
    @pytest.fixture(scope="session")
    def certs(tmp_path_factory):
        """Test CA and server certificates (made once per session)."""
        return Certs(tmp_path_factory.mktemp("certs"))

    @pytest.fixture
    def ws_servers(request):
        """Factory of test servers, all stopped after the test.  TLS by name
        (tls="server", "expired", "wrong_host", "unknown_ca") makes the
        session's certificates first."""
        servers = Servers()
        servers._certs = _LazyCerts(request)
        yield servers
        servers.close()

    class _LazyCerts:
        def __init__(self, request):
            self._request = request
            self._certs = None

        def context(self, kind):
            if self._certs is None:
                self._certs = self._request.getfixturevalue("certs")
            return self._certs.context(kind)

    @pytest.fixture
    def echo_server(ws_servers):
        """A plain ws:// echo server with permessage-deflate available."""
        return ws_servers.echo()

    @pytest.fixture
    def fake_dns(ws_servers):
        """A fake DNS server with a few names; add more to .records."""
        return ws_servers.dns({"localhost.test": ["127.0.0.1", "::1"],
                               "v4.test": ["127.0.0.1"],
                               "v6.test": ["::1"],
                               "private.test": ["10.0.0.1"],
                               "metadata.test": ["169.254.169.254"]})


# ------------------------------------------------------------ stand-alone

def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="run one test server")
    ap.add_argument("kind", choices=["price", "echo"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--count", type=int, default=None,
                    help="price: close the stream after this many updates")
    args = ap.parse_args(argv)

    if args.kind == "price":
        srv = PriceServer(interval=args.interval, port=args.port,
                          count=args.count, close_after=args.count is not None)
    else:
        srv = EchoServer(port=args.port)
    print(f"PORT {srv.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    srv.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
