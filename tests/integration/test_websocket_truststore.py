"""The default trust store (SSL_CERT_FILE, else the system bundle) is read
by the first wss:// connection, not at start-up, and that works inside the
sandbox (Landlock and seccomp on)."""
import os
import subprocess

SCRIPT = """
local websocket = require("websocket")
for i = 1, 2 do  -- the second connection reuses the loaded store
  local c, err = websocket.connect(arg[1])
  if not c then print("ERR", err:message()) return end
  c:send("hi")
  print(c:channel():receive().data)
  c:close()
end
"""


def test_wss_with_the_default_store_inside_the_sandbox(sandlua, ws_servers,
                                                       certs, tmp_path):
    srv = ws_servers.echo(tls="server")
    script = tmp_path / "s.lua"
    script.write_text(SCRIPT)
    env = dict(os.environ, SSL_CERT_FILE=certs.ca)
    url = srv.url(host="localhost")
    p = subprocess.run([sandlua, "--allow-url",
                        f"wss://localhost:{srv.port}/*", str(script), url],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "hi\nhi\n", p.stdout + p.stderr
    # the same without SSL_CERT_FILE: the system store does not know the
    # test CA, and says so
    env.pop("SSL_CERT_FILE")
    p = subprocess.run([sandlua, "--allow-url",
                        f"wss://localhost:{srv.port}/*", str(script), url],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("ERR") and "local issuer" in p.stdout


def test_start_up_does_not_read_the_trust_store(sandlua):
    # LeakSanitizer (check-asan builds) cannot run under ptrace
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run(["strace", "-f", "-e", "trace=openat,open", sandlua,
                        "-e", ""], capture_output=True, text=True, timeout=60,
                       env=env)
    assert p.returncode == 0, p.stderr
    reads = [l for l in p.stderr.splitlines()
             if "ca-certificates.crt" in l and "O_PATH" not in l]
    assert reads == [], reads
