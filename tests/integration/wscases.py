"""Conformance cases for a strict WebSocket client, in the categories of the
Autobahn TestSuite (framing, ping/pong, reserved bits, opcodes,
fragmentation, UTF-8, close handling, permessage-deflate).

Developer note.  Each Case lists the raw bytes a server sends after the
handshake and what a strict client (RFC 6455, RFC 7692) must do about
them: the messages it delivers to the application, the pongs it sends,
and the code of its close frame (1005 stands for an empty close payload).
Run one with the scripted server of wsservers.py:

    srv = ws_servers.scripted(case.script(), extensions=case.extensions)
    ... connect the client to srv.url(), collect its messages ...
    case.check(messages, srv.connections[0])   # AssertionError if wrong

A case that fails the connection waits for the client's close frame: a
client that never sends one (or not in `wait` seconds) fails the case.
test_wscases.py proves the cases against Python's websockets client.
"""
import dataclasses
import struct

from wsservers import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG,
                       OP_TEXT, Deflater, close_frame, frame)

__all__ = ["Case", "CASES", "cases"]


@dataclasses.dataclass
class Case:
    id: str
    category: str
    frames: list                 # bytes to send, or ("sleep", seconds)
    messages: list = dataclasses.field(default_factory=list)
    close: tuple = (1000,)       # acceptable codes of the client's close
    pongs: list = dataclasses.field(default_factory=list)
    extensions: str = None       # Sec-WebSocket-Extensions to answer
    wait: float = 3.0            # how long to wait for the client's close
    note: str = ""

    def script(self):
        """The ScriptedServer script for this case."""
        async def run(conn):
            for item in self.frames:
                if isinstance(item, tuple):
                    await conn.sleep(item[1])
                else:
                    conn.send(item)
            await conn.drain()
            try:
                code = await conn.expect_close(self.wait)
            except Exception:  # timeout: the check reports it
                return
            if code is not None and not self._server_closed():
                # Complete the closing handshake the client started.
                conn.send(close_frame(1000))
                await conn.drain()
        return run

    def _server_closed(self):
        return any(isinstance(f, bytes) and len(f) >= 1 and
                   f[0] & 0x0F == OP_CLOSE for f in self.frames)

    def check(self, messages, info):
        """Assert the client's behaviour: `messages` it delivered (str for
        text, bytes for binary) and what the server recorded in `info`."""
        assert messages == self.messages, \
            f"{self.id}: messages {short(messages)} != {short(self.messages)}"
        pongs = [f["payload"] for f in info.frames if f["opcode"] == OP_PONG]
        assert pongs == self.pongs, f"{self.id}: pongs {pongs} != {self.pongs}"
        got = info.close_code
        assert got in self.close, \
            f"{self.id}: client close code {got}, expected one of {self.close}"


def short(v):
    r = repr(v)
    return r if len(r) < 80 else r[:77] + "..."


def _text(s, **kw):
    return frame(OP_TEXT, s, **kw)


def _end():
    return close_frame(1000)


CASES = []


def _add(id, category, frames, **kw):
    CASES.append(Case(id=id, category=category, frames=frames, **kw))


# ---- 1. framing: payload lengths and length encodings
for n in (0, 1, 125, 126, 127, 128, 65535, 65536):
    _add(f"framing.text-{n}", "framing", [_text("*" * n), _end()],
         messages=["*" * n])
    _add(f"framing.binary-{n}", "framing",
         [frame(OP_BINARY, bytes(i % 256 for i in range(n))), _end()],
         messages=[bytes(i % 256 for i in range(n))])
_add("framing.text-in-pieces", "framing",
     [_text("split")[:1], ("sleep", 0.05), _text("split")[1:3],
      ("sleep", 0.05), _text("split")[3:], _end()], messages=["split"])
_add("framing.many-messages", "framing",
     [b"".join(_text(f"m{i}") for i in range(100)), _end()],
     messages=[f"m{i}" for i in range(100)])
_add("framing.length-msb-set", "framing",
     [b"\x82\x7f" + struct.pack("!Q", 1 << 63)], close=(1002, 1009),
     note="64-bit length with the most significant bit set")
_add("framing.masked-from-server", "framing",
     [frame(OP_TEXT, "masked", mask=b"\x01\x02\x03\x04")], close=(1002,),
     note="a client MUST fail on a masked frame")

# ---- 2. ping / pong
_add("ping.empty", "pingpong", [frame(OP_PING), _end()], pongs=[b""])
_add("ping.125", "pingpong", [frame(OP_PING, b"p" * 125), _end()],
     pongs=[b"p" * 125])
_add("ping.binary-payload", "pingpong",
     [frame(OP_PING, b"\x00\xff\xfe\xfd"), _end()],
     pongs=[b"\x00\xff\xfe\xfd"])
_add("ping.126", "pingpong", [frame(OP_PING, b"p" * 126)], close=(1002,),
     note="control frame payload over 125 bytes")
_add("ping.fragmented", "pingpong", [frame(OP_PING, b"x", fin=False)],
     close=(1002,))
_add("ping.ten", "pingpong",
     [frame(OP_PING, f"p{i}") for i in range(10)] + [_end()],
     pongs=[f"p{i}".encode() for i in range(10)])
_add("pong.unsolicited", "pingpong",
     [frame(OP_PONG, b"unasked"), _text("after"), _end()],
     messages=["after"])

# ---- 3. reserved bits
_add("rsv.rsv1-text-without-extension", "reserved-bits",
     [_text("x", rsv1=True)], close=(1002,))
_add("rsv.rsv2-text", "reserved-bits", [_text("x", rsv2=True)],
     close=(1002,))
_add("rsv.rsv3-binary", "reserved-bits",
     [frame(OP_BINARY, b"x", rsv3=True)], close=(1002,))
_add("rsv.rsv3-ping", "reserved-bits", [frame(OP_PING, b"x", rsv3=True)],
     close=(1002,))
_add("rsv.after-good-message", "reserved-bits",
     [_text("ok"), _text("bad", rsv2=True)], messages=["ok"], close=(1002,))

# ---- 4. opcodes
for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
    _add(f"opcode.reserved-{op:x}", "opcodes", [frame(op, b"x")],
         close=(1002,))
_add("framing.messages-then-bad-frame-one-write", "framing",
     [b"".join([_text("a"), frame(OP_BINARY, b"b"), frame(OP_PING, b"p"),
                _text("c", fin=False), frame(OP_CONT, "d"), frame(5, b"")])],
     messages=["a", b"b", "cd"], pongs=[b"p"], close=(1002,),
     note="every complete message before a bad frame of the same read is "
          "delivered, then the connection fails")
_add("opcode.reserved-after-message", "opcodes",
     [_text("ok"), frame(5, b"")], messages=["ok"], close=(1002,))

# ---- 5. fragmentation
_add("frag.text-2", "fragmentation",
     [_text("frag", fin=False), frame(OP_CONT, "mented"), _end()],
     messages=["fragmented"])
_add("frag.binary-3", "fragmentation",
     [frame(OP_BINARY, b"\x00", fin=False), frame(OP_CONT, b"\x01", fin=False),
      frame(OP_CONT, b"\x02"), _end()], messages=[b"\x00\x01\x02"])
_add("frag.empty-pieces", "fragmentation",
     [_text("", fin=False), frame(OP_CONT, "", fin=False),
      frame(OP_CONT, "x"), _end()], messages=["x"])
_add("frag.one-byte-pieces", "fragmentation",
     [_text("a", fin=False)] + [frame(OP_CONT, "b", fin=False)] * 98 +
     [frame(OP_CONT, "c"), _end()], messages=["a" + "b" * 98 + "c"])
_add("frag.ping-between", "fragmentation",
     [_text("a", fin=False), frame(OP_PING, b"p"), frame(OP_CONT, "b"),
      _end()], messages=["ab"], pongs=[b"p"])
_add("frag.pong-between", "fragmentation",
     [_text("a", fin=False), frame(OP_PONG, b"p"), frame(OP_CONT, "b"),
      _end()], messages=["ab"])
_add("frag.continuation-first", "fragmentation", [frame(OP_CONT, "x")],
     close=(1002,))
_add("frag.continuation-first-unfinished", "fragmentation",
     [frame(OP_CONT, "x", fin=False)], close=(1002,))
_add("frag.new-message-inside", "fragmentation",
     [_text("a", fin=False), _text("b")], close=(1002,))
_add("frag.close-between", "fragmentation",
     [_text("a", fin=False), close_frame(1000)], close=(1000,),
     note="a close frame may come between fragments; the partial message "
          "is not delivered")

# ---- 6. UTF-8
for name, data in [("greek", "κόσμε"), ("emoji", "\U0001F600"),
                   ("max", "\U0010FFFF"), ("bom", "\ufeffx"),
                   ("nul", "a\x00b")]:
    _add(f"utf8.valid-{name}", "utf8", [_text(data), _end()],
         messages=[data])
_k = "κόσμε".encode()
_add("utf8.valid-split-inside-char", "utf8",
     [_text(_k[:1], fin=False), frame(OP_CONT, _k[1:4], fin=False),
      frame(OP_CONT, _k[4:]), _end()], messages=["κόσμε"])
for name, data in [("overlong", b"\xc0\x80"), ("surrogate", b"\xed\xa0\x80"),
                   ("above-max", b"\xf4\x90\x80\x80"), ("ff", b"ab\xff"),
                   ("truncated", b"ab\xce"), ("lone-continuation", b"\x80"),
                   ("overlong-slash", b"\xe0\x80\xaf")]:
    _add(f"utf8.invalid-{name}", "utf8", [_text(data)], close=(1007,))
_add("utf8.invalid-truncated-at-last-fragment", "utf8",
     [_text("ab", fin=False), frame(OP_CONT, b"\xce")], close=(1007,))
_add("utf8.fail-fast", "utf8",
     [_text(b"ok\xff", fin=False)], close=(1007,), wait=2.0,
     note="the rest of the message never comes: the client must fail on "
          "the first invalid byte, not at the end of the message")
_add("utf8.invalid-close-reason", "utf8",
     [close_frame(1000, b"\xff")], close=(1002, 1007))

# ---- 7. close handling
_add("close.empty", "close", [close_frame()], close=(1005, 1000))
_add("close.one-byte", "close", [frame(OP_CLOSE, b"\x03")], close=(1002,))
_add("close.with-reason", "close", [close_frame(1000, "bye")])
_add("close.reason-123", "close", [close_frame(1000, "r" * 123)])
_add("close.reason-124", "close", [close_frame(1000, "r" * 124)],
     close=(1002,), note="payload 126 bytes: too long for a control frame")
_add("close.fragmented", "close", [close_frame(1000, fin=False)],
     close=(1002,))
_add("close.data-after-close", "close",
     [close_frame(1000), _text("late")], close=(1000,))
for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
             1013, 1014, 3000, 3999, 4000, 4999):
    _add(f"close.valid-{code}", "close", [close_frame(code)],
         close=(code, 1000))
for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
             65535):
    _add(f"close.invalid-{code}", "close", [close_frame(code)],
         close=(1002,))

# ---- 8. permessage-deflate (RFC 7692)
PMD = "permessage-deflate"
PMD_NCT = "permessage-deflate; server_no_context_takeover"


def _z(*msgs, reset=False):
    d = Deflater(no_context_takeover=reset)
    return [d.compress(m) for m in msgs]


_add("pmd.text", "compression",
     [_text(_z("hello")[0], rsv1=True), _end()], messages=["hello"],
     extensions=PMD)
_add("pmd.binary", "compression",
     [frame(OP_BINARY, _z(b"\x00\x01" * 500)[0], rsv1=True), _end()],
     messages=[b"\x00\x01" * 500], extensions=PMD)
_add("pmd.context-takeover", "compression",
     [_text(p, rsv1=True) for p in _z("hello hello", "hello hello",
                                      "hello hello")] + [_end()],
     messages=["hello hello"] * 3, extensions=PMD,
     note="later messages refer back to earlier ones")
_add("pmd.no-context-takeover", "compression",
     [_text(p, rsv1=True) for p in _z("abcabc", "abcabc", reset=True)] +
     [_end()], messages=["abcabc"] * 2, extensions=PMD_NCT)
_add("pmd.uncompressed-message", "compression",
     [_text("small"), _text(_z("big" * 100)[0], rsv1=True), _text("small"),
      _end()], messages=["small", "big" * 100, "small"], extensions=PMD,
     note="messages under a threshold sent uncompressed (Node ws does it)")
_add("pmd.empty", "compression",
     [_text(_z("")[0], rsv1=True), _end()], messages=[""], extensions=PMD)
_add("pmd.empty-text-then-binary", "compression",
     [_text(b"\x00", rsv1=True), frame(OP_BINARY, b"\x00", rsv1=True),
      _text(_z("after")[0], rsv1=True), _end()],
     messages=["", b"", "after"], extensions=PMD,
     note="an empty message compresses to one 0x00 byte (RFC 7692 "
          "7.2.3.6), each time")
_add("pmd.messages-then-bad-data-one-write", "compression",
     [b"".join([_text(p, rsv1=True) for p in _z("one", "", "two")] +
               [frame(OP_BINARY, b"\xff\xff\xff\xff", rsv1=True)])],
     messages=["one", "", "two"], close=(1002, 1007), extensions=PMD)
_p = _z("fragmented and compressed " * 10)[0]
_add("pmd.fragmented", "compression",
     [_text(_p[:5], rsv1=True, fin=False), frame(OP_CONT, _p[5:10], fin=False),
      frame(OP_PING, b"p"), frame(OP_CONT, _p[10:]), _end()],
     messages=["fragmented and compressed " * 10], pongs=[b"p"],
     extensions=PMD)
_add("pmd.large", "compression",
     [frame(OP_BINARY, _z(b"0123456789abcdef" * 65536)[0], rsv1=True),
      _end()], messages=[b"0123456789abcdef" * 65536], extensions=PMD,
     note="1 MiB from a few KiB")
_add("pmd.rsv1-on-continuation", "compression",
     [_text(_p[:5], rsv1=True, fin=False),
      frame(OP_CONT, _p[5:], rsv1=True)], close=(1002,), extensions=PMD)
_add("pmd.rsv1-on-ping", "compression",
     [frame(OP_PING, b"p", rsv1=True)], close=(1002,), extensions=PMD)
_add("pmd.rsv2-with-extension", "compression",
     [_text("x", rsv2=True)], close=(1002,), extensions=PMD)
_add("pmd.bad-deflate-data", "compression",
     [_text(b"\xff\xff\xff\xff", rsv1=True)], close=(1002, 1007),
     extensions=PMD)
_add("pmd.compressed-invalid-utf8", "compression",
     [_text(_z(b"ab\xff")[0], rsv1=True)], close=(1007,), extensions=PMD)


def cases(category=None):
    """The cases, all or of one category."""
    return [c for c in CASES if category is None or c.category == category]


_ids = [c.id for c in CASES]
assert len(_ids) == len(set(_ids)), "duplicate case ids"
