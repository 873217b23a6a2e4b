"""The WebSocket protocol engine against an independent implementation:
python3-websockets echo servers (plain, permessage-deflate with context
takeover, and without context takeover with small windows), driven over
TCP by tests/integration/wsproto_peer.c built from the engine's sources."""
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

SERVER = r'''
import asyncio, sys
import websockets
from websockets.extensions import permessage_deflate as pmd

async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)

async def main():
    mode = sys.argv[1]
    kw = {"compression": None}
    if mode == "deflate":
        kw = {}  # websockets' default offer handling
    elif mode == "small":
        kw["extensions"] = [pmd.ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True,
            server_max_window_bits=10, client_max_window_bits=9)]
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=2**24,
                                subprotocols=["chat"], **kw) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)

asyncio.run(main())
'''


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    out = tmp_path_factory.mktemp("wsproto") / "wsproto_peer"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openssl",
                            "zlib"], capture_output=True, text=True,
                           check=True).stdout.split()
    san = ["-fsanitize=address,undefined"] if os.environ.get("SANITIZED") else []
    srcs = sorted(str(p) for p in [*(ROOT / "net").glob("wsp_*.c"),
                                   *(ROOT / "common").glob("*.c")])
    subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-Wall",
                    "-Wextra", "-Werror", *san, "-o", str(out),
                    str(ROOT / "tests" / "integration" / "wsproto_peer.c"),
                    *srcs, *flags], check=True)
    return str(out)


@pytest.fixture(params=["plain", "deflate", "small"])
def server(request, tmp_path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    p = subprocess.Popen(["/usr/bin/python3", str(script), request.param],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    port = p.stdout.readline().strip()
    assert port.isdigit(), p.stderr.read()
    yield request.param, port
    p.kill()
    p.wait()


@pytest.mark.parametrize("comp", [0, 1, 2])
def test_echo_against_python_websockets(peer, server, comp):
    mode, port = server
    r = subprocess.run([peer, port, str(comp)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "ok"
    first = r.stdout.splitlines()[0]
    assert "subprotocol=chat" in first
    expect_pmd = comp != 0 and mode != "plain"
    assert ("compression=1" in first) == expect_pmd, first
    if expect_pmd and mode == "small":
        assert "snct=1 cnct=1 sbits=10 cbits=9" in first
    if comp == 2 and mode == "deflate":
        assert "snct=1 cnct=1" in first
