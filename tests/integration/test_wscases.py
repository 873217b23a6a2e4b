"""The conformance cases of wscases.py, proven against Python's websockets
client (a strict RFC 6455 / 7692 implementation), so the C client can be
held to them."""
import asyncio

import pytest
import websockets

from wscases import CASES

async def client_run(url):
    """Connect, collect messages until the connection ends."""
    got = []
    async with websockets.connect(url, compression="deflate", max_size=1 << 25,
                                  close_timeout=2) as ws:
        try:
            while True:
                got.append(await ws.recv())
        except websockets.ConnectionClosed:
            pass
    return got


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_with_python_client(ws_servers, case):
    srv = ws_servers.scripted(case.script(), extensions=case.extensions)
    got = asyncio.run(asyncio.wait_for(client_run(srv.url()), 10))
    assert srv.wait_closed()
    assert srv.errors == []
    case.check(got, srv.connections[0])


def test_categories():
    cats = {c.category for c in CASES}
    assert cats == {"framing", "pingpong", "reserved-bits", "opcodes",
                    "fragmentation", "utf8", "close", "compression"}
