"""Interop with a Node `ws@8` server using its default permessage-deflate
settings (threshold 1 KiB: small messages go uncompressed on a compressed
connection).  ws is installed with npm into a cache directory on first use;
the test is skipped, saying why, only when npm cannot install it."""
import os
import pathlib
import shutil
import subprocess
import textwrap

import pytest

CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME",
                                    pathlib.Path.home() / ".cache")) / \
    "sandlua-tests" / "node-ws8"

SERVER = r"""
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0,
                                  perMessageDeflate: true });
wss.on('listening', () => console.log('PORT ' + wss.address().port));
wss.on('connection', (ws, req) => {
  console.log('EXT ' + (ws.extensions || '-'));
  ws.on('message', (data, isBinary) => {
    const s = data.toString();
    if (!isBinary && s.startsWith('!small')) {
      for (let i = 0; i < 50; i++) ws.send('small ' + i);
      return;
    }
    ws.send(data, { binary: isBinary });
  });
  ws.on('close', (code, reason) => console.log('CLOSE ' + code));
});
"""


def ws_module():
    if (CACHE / "node_modules" / "ws").is_dir():
        return CACHE
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "--silent", "--prefix", str(CACHE), "ws@8"],
                       capture_output=True, text=True, timeout=180)
    if r.returncode != 0 or not (CACHE / "node_modules" / "ws").is_dir():
        pytest.skip("npm could not install ws@8: " + r.stderr[-300:])
    return CACHE


@pytest.fixture
def node_server():
    mod = ws_module()
    p = subprocess.Popen(["node", "-e", SERVER], cwd=str(mod),
                         stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, NODE_PATH=str(mod / "node_modules")))
    line = p.stdout.readline()
    assert line.startswith("PORT "), line
    yield p, int(line.split()[1])
    p.terminate()
    p.wait(5)


@pytest.mark.parametrize("mode", ["context_takeover", "no_context_takeover",
                                  "disabled"])
def test_node_ws_interop(run, tmp_path, node_server, mode):
    proc, port = node_server
    script = tmp_path / "s.lua"
    script.write_text(textwrap.dedent("""
        local websocket = require("websocket")
        local c = assert(websocket.connect(arg[1], {compression = arg[2]}))
        local ch = c:channel()
        c:send("!small")
        for i = 0, 49 do
          local m = ch:receive()
          assert(m.data == "small " .. i, m.data)
        end
        for _, n in ipairs({10, 1023, 1024, 1025, 70000, 1 << 20}) do
          local s = string.rep("abcdefgh", n // 8 + 1):sub(1, n)
          assert(c:send(s))
          assert(ch:receive().data == s)
          assert(c:send(s, websocket.BINARY))
          local m = ch:receive()
          assert(m.type == "binary" and m.data == s)
        end
        print("ok")
        c:close()
    """))
    r = run("--allow-url", f"ws://127.0.0.1:{port}/*", str(script),
            f"ws://127.0.0.1:{port}/", mode, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"
    ext = proc.stdout.readline().strip()
    if mode == "disabled":
        assert ext == "EXT -"
    else:
        assert ext.startswith("EXT permessage-deflate"), ext
