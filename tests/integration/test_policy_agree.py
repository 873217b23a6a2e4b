"""One decision: `sandlua policy check` answers exactly what the runtime
does.  The special-address rule under a policy that lists "*" beside an IP
literal, IP literals in every numeric form under a broad allow, `--ip`
(repeatable) and `ip:` lists in test cases, and a differential run of every
policy and URL below through both (policy_agree.py, in a network namespace
of its own so that nothing connected to can leave the machine)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = ROOT / "policies" / "examples"

ENTRY = """\
version: "1.0"
namespace: t
entries:
  - name: {name}
    kind: security.policy
    policy:
      actions: [websocket.connect, websocket.connect.url]
      resources: {resources}
      effect: allow
"""

POLICIES = {
    # The reference runtime's registry shape: "*" beside the local server.
    "star-and-local": ENTRY.format(
        name="local", resources='["*", "ws://127.0.0.1:{PORT}/*"]'),
    "broad-wss": ENTRY.format(name="broad", resources='"wss://*/*"'),
    "broad-any": ENTRY.format(name="any", resources='["ws://*/*", '
                              '"wss://*/*"]'),
    "localhost": ENTRY.format(name="lh", resources='"ws://localhost:{PORT}"'),
    "star": ENTRY.format(name="star", resources='"*"'),
    "v6-local": ENTRY.format(name="v6", resources='"ws://[::1]:{PORT}/*"'),
}
for f in sorted(EXAMPLES.glob("*.yaml")):
    if f.name != "cases.yaml":
        POLICIES["example-" + f.stem] = f.read_text()

DNS = {
    "public.test": ["93.184.216.34"],
    "loop.test": ["127.0.0.1"],
    "private.test": ["10.1.2.3"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["10.1.2.3", "93.184.216.34"],
    "mapped.test": ["::ffff:169.254.169.254"],
    "localhost": ["127.0.0.1"],
    "chat.example.com": ["93.184.216.34"],
    "a.example.net": ["10.1.2.3"],
    "b.example.net": ["93.184.216.35"],
    "feed.example.com": ["93.184.216.36"],
    "a.b.example.org": ["93.184.216.37"],
    "stream.example.com": ["93.184.216.38"],
}

URLS = [
    "ws://127.0.0.1:{PORT}/", "ws://127.0.0.1:{PORT}/x/y",
    "ws://127.1:{PORT}/", "ws://2130706433:{PORT}/", "ws://0x7f.0.0.1:{PORT}/",
    "ws://[::1]:{PORT}/", "ws://[::ffff:127.0.0.1]:{PORT}/",
    "ws://localhost:{PORT}/", "ws://loop.test:{PORT}/",
    "wss://127.0.0.1/", "wss://[::ffff:169.254.169.254]/",
    "wss://169.254.169.254/", "wss://10.0.0.1/", "wss://0xa.0.0.1/",
    "wss://[64:ff9b::a9fe:a9fe]/", "wss://100.64.0.1/", "wss://[fd00::1]/",
    "wss://public.test/", "wss://private.test/", "wss://metadata.test/",
    "wss://mixed.test/", "wss://mapped.test/", "ws://public.test/",
    "wss://chat.example.com/ws/lobby", "wss://a.example.net/",
    "wss://b.example.net/", "wss://feed.example.com/live",
    "wss://a.b.example.org/x", "wss://stream.example.com/prices",
    "wss://93.184.216.34/", "wss://b.example.net/x/..%2fadmin",
    "wss://b.example.net/x/%2e%2e/admin", "wss://b.example.net/a%00",
    # invalid
    "localhost:8080/x", "//host/x", "ws:/x", "http://public.test/",
    "wss://user@public.test/", "wss://public.test/#f", "wss://pub lic.test/",
]


@pytest.fixture
def policy_files(tmp_path):
    def make(name, port="9000"):
        p = tmp_path / (name + ".yaml")
        p.write_text(POLICIES[name].replace("{PORT}", port))
        return str(p)
    return make


def check(sandlua, *args):
    return subprocess.run([sandlua, "policy", "check", *args],
                          capture_output=True, text=True, timeout=30)


def test_star_beside_the_literal_names_it(sandlua, policy_files):
    pol = policy_files("star-and-local")
    for action in ("websocket.connect", "websocket.connect.url"):
        p = check(sandlua, "--policy", pol, action, "ws://127.0.0.1:9000/x")
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stdout.startswith("allow\npolicy: t:local\n")
    p = check(sandlua, "--policy", pol, "websocket.connect.url",
              "ws://127.0.0.1:9001/x")
    assert p.returncode == 1
    assert "127.0.0.1 is a loopback address" in p.stdout


@pytest.mark.parametrize("url", [
    "wss://127.0.0.1/", "wss://[::ffff:169.254.169.254]/", "wss://10.0.0.1/",
    "wss://2130706433/", "wss://0x7f.1/", "wss://017700000001/",
    "wss://[::1]/", "wss://169.254.169.254/", "wss://[fe80::1]/",
])
def test_ip_literals_are_decided_without_dns(sandlua, policy_files, url):
    p = check(sandlua, "--policy", policy_files("broad-wss"),
              "websocket.connect.url", url)
    assert p.returncode == 1, p.stdout
    assert "policy: (special-purpose address)" in p.stdout
    assert "which no allow policy names explicitly" in p.stdout


def test_repeated_ip_first_allowed_decides(sandlua, policy_files):
    pol = policy_files("broad-wss")
    p = check(sandlua, "--policy", pol, "--ip", "10.0.0.1", "--ip",
              "93.184.216.34", "websocket.connect.url", "wss://x.test/")
    assert p.returncode == 0
    assert "ip: 93.184.216.34\n" in p.stdout
    p = check(sandlua, "--policy", pol, "--ip", "10.0.0.1", "--ip",
              "127.0.0.1", "websocket.connect.url", "wss://x.test/")
    assert p.returncode == 1
    assert "ip: 10.0.0.1\n" in p.stdout and "private address" in p.stdout


def test_bad_ip_options(sandlua, policy_files):
    pol = policy_files("broad-wss")
    p = check(sandlua, "--policy", pol, "--ip", "10.0.0.300",
              "websocket.connect.url", "wss://x.test/")
    assert p.returncode == 2
    assert "--ip 10.0.0.300: not an IP address" in p.stderr
    many = []
    for i in range(17):
        many += ["--ip", f"93.184.216.{i}"]
    p = check(sandlua, "--policy", pol, *many, "websocket.connect.url",
              "wss://x.test/")
    assert p.returncode == 2 and "more than 16 addresses" in p.stderr


def test_cases_take_a_list_of_addresses(run, tmp_path, policy_files):
    pol = policy_files("broad-wss")
    cases = tmp_path / "cases.yaml"
    cases.write_text(f"""\
policies: [{pol}]
cases:
  - action: websocket.connect.url
    resource: wss://x.test/
    ip: [10.0.0.1, 93.184.216.34]
    expect: allow
  - action: websocket.connect.url
    resource: wss://x.test/
    ip: [10.0.0.1, 127.0.0.1]
    expect: deny
    policy: (special-purpose address)
  - action: websocket.connect.url
    resource: wss://127.0.0.1/
    expect: deny
""")
    p = run("policy", "test", str(cases))
    assert p.returncode == 0, p.stdout + p.stderr
    for bad, msg in [("[]", "ip: an empty list"),
                     ("[1.2.3.4, {a: 1}]", "ip"),
                     ("[" + ", ".join(["1.1.1.1"] * 17) + "]",
                      "ip: more than 16 addresses"),
                     ("[1.2.3.400]", "invalid IP address '1.2.3.400'")]:
        cases.write_text(f"""\
policies: [{pol}]
cases:
  - action: websocket.connect.url
    resource: wss://x.test/
    ip: {bad}
    expect: allow
""")
        p = run("policy", "test", str(cases))
        assert p.returncode == 3, (bad, p.stdout, p.stderr)
        assert f"{cases}:5:" in p.stderr and msg in p.stderr


def netns_available():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip (util-linux, iproute2) is not installed"
    p = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return "no network namespace here: " + p.stderr.strip()
    return None


def test_check_and_runtime_agree_on_every_case(sandlua, tmp_path):
    why = netns_available()
    if why:
        pytest.skip(why)
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps({"policies": POLICIES, "urls": URLS,
                                 "dns": DNS}))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run(["unshare", "--net", sys.executable,
                        str(HERE / "policy_agree.py"), sandlua, str(cases)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["compared"] == len(POLICIES) * len(URLS)
    assert out["mismatches"] == [], "\n".join(map(str, out["mismatches"]))
