"""A task woken by a socket event runs without waking the event loop
through its eventfd (lws_cancel_service): lws_service returns right after
socket events.  200 echo round trips must not cost 200 eventfd writes."""
import os
import subprocess

SCRIPT = """
local websocket = require("websocket")
local c = assert(websocket.connect(arg[1]))
local ch = c:channel()
for i = 1, 200 do
  c:send("m" .. i)
  assert(ch:receive().data == "m" .. i)
end
c:close()
print("done")
"""


def test_socket_wakeups_do_not_write_the_eventfd(sandlua, echo_server,
                                                 tmp_path):
    script = tmp_path / "s.lua"
    script.write_text(SCRIPT)
    url = echo_server.url()
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run(
        ["strace", "-f", "-e", "trace=write", "-e", "signal=none", sandlua,
         "--allow-url", f"ws://127.0.0.1:{echo_server.port}/*",
         str(script), url],
        capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout == "done\n"
    # lws_cancel_service writes the 8-byte counter 1 to its eventfd
    wakes = [l for l in p.stderr.splitlines()
             if '"\\1\\0\\0\\0\\0\\0\\0\\0", 8)' in l]
    assert len(wakes) < 20, len(wakes)


CONNECTS = """
local websocket = require("websocket")
for i = 1, 100 do
  local c = assert(websocket.connect(arg[1]))
  assert(c:close())
  assert(c:close_status().clean)
end
print("done")
"""


def trace(sandlua, echo_server, tmp_path, script, calls):
    path = tmp_path / "s.lua"
    path.write_text(script)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run(
        ["strace", "-f", "-e", f"trace={calls}", "-e", "signal=none", sandlua,
         "--allow-url", f"ws://127.0.0.1:{echo_server.port}/*",
         str(path), echo_server.url()],
        capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout == "done\n"
    return p.stderr.splitlines()


def test_connect_close_cycles_do_not_write_the_eventfd(sandlua, echo_server,
                                                       tmp_path):
    """The close handshake ends in the socket's callback (RAW_RX returns -1)
    and lws then destroys the connection (RAW_CLOSE, WSI_DESTROY) in the
    same lws_service call, after its poll: the task waiting in close() is
    woken without a cancel."""
    lines = trace(sandlua, echo_server, tmp_path, CONNECTS, "write")
    wakes = [l for l in lines if '"\\1\\0\\0\\0\\0\\0\\0\\0", 8)' in l]
    assert len(wakes) < 10, len(wakes)


def test_connect_close_cycles_draw_random_bytes_in_blocks(sandlua,
                                                         echo_server,
                                                         tmp_path):
    """Keys and masks come from one pool of random bytes shared by every
    connection: OpenSSL's RAND_bytes (one getpid each, for its fork check)
    is not called for each connection."""
    lines = trace(sandlua, echo_server, tmp_path, CONNECTS, "getpid")
    calls = [l for l in lines if "getpid()" in l]
    assert len(calls) < 20, len(calls)
