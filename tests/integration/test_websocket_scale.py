"""Many connections at once: 2,000 WebSocket connections open together to a
local python3-websockets server, each echoes one message, all close with a
clean handshake, and the process's descriptors and Lua memory come back to
where they were (no timing asserted: bench/scale measures the costs)."""
import os
import resource
import subprocess
import sys
import textwrap

import pytest

N = 2000

SERVER = r"""
import asyncio, resource, sys
import websockets
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, backlog=4096,
                                compression=None) as srv:
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""

SCRIPT = r"""
local websocket = require("websocket")
local N, url = tonumber(arg[1]), arg[2]
local function mark(s)
  collectgarbage() collectgarbage()
  print(s, math.floor(collectgarbage("count"))) io.stdout:flush()
  time.sleep("300ms")  -- the test counts descriptors meanwhile
end
local done = channel.new(N)
local function all(f)  -- f(i) in N tasks at once; wait for every one
  for i = 1, N do coroutine.spawn(function() f(i) done:send(true) end) end
  for i = 1, N do done:receive() end
end
local function round(name)
  local conns = {}
  all(function(i) conns[i] = assert(websocket.connect(url)) end)
  if name then mark(name) end
  all(function(i)  -- every connection echoes its own message
    local c = conns[i]
    assert(c:send("message " .. i))
    local m = assert(c:channel():receive())
    assert(m.data == "message " .. i, m.data)
  end)
  all(function(i)
    assert(conns[i]:close())
    local st = conns[i]:close_status()
    assert(st.clean and st.code == 1000, tostring(st.code))
  end)
end
-- the first round grows what keeps its capacity (the registry, the run
-- queue); the second must come back to where the first left things
round()
mark("BASE")
round("OPEN")
mark("DONE")
"""


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_two_thousand_connections_at_once(sandlua, tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < N + 200:
        pytest.skip(f"RLIMIT_NOFILE's hard limit is {hard}, below {N + 200}")
    srv = subprocess.Popen([sys.executable, "-c", SERVER],
                           stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline())
        script = tmp_path / "many.lua"
        script.write_text(textwrap.dedent(SCRIPT))
        url = f"ws://127.0.0.1:{port}/"
        p = subprocess.Popen(
            [sandlua, "--allow-url", f"ws://127.0.0.1:{port}/*",
             "--max-connections", str(N), "--timeout", "300s",
             str(script), str(N), url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = {}
        try:
            for want in ("BASE", "OPEN", "DONE"):
                line = p.stdout.readline().split()
                assert line and line[0] == want, (line, p.stderr.read()
                                                  if p.poll() is not None
                                                  else "")
                seen[want] = (fds(p.pid), int(line[1]))
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, err
        base_fds, base_kib = seen["BASE"]
        assert seen["OPEN"][0] >= base_fds + N  # all open at once
        assert seen["DONE"][0] == base_fds, seen
        # Lua memory back to where the first round left it
        assert seen["DONE"][1] <= base_kib + 16, seen
        assert seen["OPEN"][1] > base_kib + N // 2  # the clients were there
    finally:
        srv.kill()
        srv.wait()
