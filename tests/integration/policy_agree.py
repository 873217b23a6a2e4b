"""The differential check of `sandlua policy check` against the runtime,
run by test_policy_agree.py inside a network namespace of its own (nothing
it connects to can leave the machine: only lo is up there).

    unshare --net python3 policy_agree.py SANDLUA CASES.json

CASES.json: {"policies": {name: yaml text}, "urls": [url, ...],
"dns": {host: [ip, ...]}}; "{PORT}" in any of them is replaced by the port
of a local echo server.  For every policy and URL it asks both:

- the runtime: websocket.connect(url) in a script under that policy, with
  --dns-server pointing at a stub that answers from "dns": PERMISSION_DENIED
  is deny, INVALID is invalid, anything else (connected, or refused by the
  network) is allow;
- the checker: `policy check websocket.connect URL` and `policy check
  websocket.connect.url URL --ip ...` (the stub's addresses for a host
  name), allow when both allow, invalid when the URL is.

Prints one JSON object: {"compared": N, "mismatches": [...]}.
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsservers import EchoServer, FakeDNS  # noqa: E402

RUNTIME = r"""
local websocket, errors = require("websocket"), require("errors")
local out = {}
for i = 1, #arg do
  local c, err = websocket.connect(arg[i], {dial_timeout = 2000})
  local got = "allow"
  if c then c:close()
  elseif err:kind() == errors.PERMISSION_DENIED then got = "deny"
  elseif err:kind() == errors.INVALID then got = "invalid" end
  out[#out + 1] = got
end
print(table.concat(out, " "))
"""


def check(sandlua, policy, action, url, ips):
    args = [sandlua, "policy", "check", "--policy", policy]
    for ip in ips:
        args += ["--ip", ip]
    p = subprocess.run(args + [action, url], capture_output=True, text=True,
                       timeout=30)
    if "policy: (invalid URL)" in p.stdout:
        return "invalid"
    if p.returncode not in (0, 1):
        raise RuntimeError(f"policy check {url}: {p.returncode} {p.stderr}")
    return "allow" if p.returncode == 0 else "deny"


def host_of(url):
    try:
        return (urllib.parse.urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def main(sandlua, cases_path):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    echo = EchoServer()
    port = str(echo.port)
    cases = json.loads(open(cases_path).read().replace("{PORT}", port))
    dns = FakeDNS(cases["dns"])
    mismatches, compared = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "connect.lua")
        with open(script, "w") as f:
            f.write(RUNTIME)
        for name, text in cases["policies"].items():
            policy = os.path.join(tmp, name + ".yaml")
            with open(policy, "w") as f:
                f.write(text)
            urls = cases["urls"]
            p = subprocess.run([sandlua, "--policy", policy, "--dns-server",
                                dns.server, script, *urls],
                               capture_output=True, text=True, timeout=120)
            runtime = p.stdout.split()
            if p.returncode != 0 or len(runtime) != len(urls):
                raise RuntimeError(f"{name}: {p.returncode} {p.stderr}")
            for url, got in zip(urls, runtime):
                ips = cases["dns"].get(host_of(url).lower(), [])
                a = check(sandlua, policy, "websocket.connect", url, [])
                b = check(sandlua, policy, "websocket.connect.url", url, ips)
                want = ("invalid" if "invalid" in (a, b) else
                        "allow" if a == b == "allow" else "deny")
                compared += 1
                if want != got:
                    mismatches.append({"policy": name, "url": url,
                                       "check": want, "runtime": got})
    echo.stop()
    dns.stop()
    print(json.dumps({"compared": compared, "mismatches": mismatches}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
