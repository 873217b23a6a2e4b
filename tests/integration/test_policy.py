"""The policy layer from the command line: loading before any script runs
(exit 3), the policy options, the audit log, and `sandlua policy`."""
import json
import shutil
import subprocess
import os
import pathlib
import xml.etree.ElementTree as ET

import pytest

from conftest import sandlua_path

ROOT = pathlib.Path(__file__).resolve().parents[2]
BAD = sorted((ROOT / "tests" / "policies" / "bad").glob("*.yaml"))
GOOD = sorted((ROOT / "tests" / "policies" / "good").glob("*.yaml"))
EXAMPLES = ROOT / "policies" / "examples"
# Named explicitly so that a default policy on the machine does not count.
DENY_ALL = str(ROOT / "policies" / "default.yaml")

CAN = ("local s = require('security') "
       "print(s.can(arg[1], arg[2]))")

ALLOW_CHAT = """\
namespace: t
entries:
  - name: chat
    kind: security.policy
    policy:
      actions: [websocket.connect, websocket.connect.url]
      resources: "wss://chat.example.com/ws/*"
      effect: allow
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def script(tmp_path, text):
    return write(tmp_path, "s.lua", text)


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.name)
def test_bad_policy_exits_3_before_the_script(run, tmp_path, fixture):
    expect = fixture.read_bytes().split(b"\n", 1)[0].decode()
    assert expect.startswith("# expect: ")
    marker = tmp_path / "ran"
    s = script(tmp_path, f"io.open({str(marker)!r}, 'w'):close() print('ran')")
    rel = os.path.relpath(fixture, ROOT)
    p = run("--policy", rel, "-e", "print('e ran')", s, cwd=str(ROOT))
    assert p.returncode == 3
    assert p.stdout == ""
    assert not marker.exists()
    assert p.stderr.startswith(rel + ":" + expect[len("# expect: "):])


def test_good_fixtures_load_together(run):
    args = []
    for g in GOOD:
        args += ["--policy", str(g)]
    p = run(*args, "-e", "print(require('security').actor().id)")
    assert p.returncode == 0, p.stderr
    assert p.stdout == "bot-7\n"
    # _index.yaml's other kinds are skipped with a warning.
    assert "warning: " in p.stderr
    assert "entry 'main' of kind 'function.lua' skipped" in p.stderr


def test_missing_policy_file(run, tmp_path):
    p = run("--policy", str(tmp_path / "none.yaml"), "-e", "print(1)")
    assert p.returncode == 3
    assert p.stdout == ""
    assert p.stderr == f"{tmp_path / 'none.yaml'}: No such file or directory\n"


def test_default_is_deny_all(run, tmp_path):
    p = run(script(tmp_path, CAN), "websocket.connect", "wss://example.com/")
    if os.path.exists("/etc/sandlua/policy.yaml"):
        pytest.skip("this machine has a default policy")
    assert (p.returncode, p.stdout) == (0, "false\n")


def test_policy_allows(run, tmp_path):
    pol = write(tmp_path, "p.yaml", ALLOW_CHAT)
    s = script(tmp_path, CAN)
    p = run("--policy", pol, s, "websocket.connect.url",
            "wss://Chat.Example.com./ws/1")
    assert (p.returncode, p.stdout) == (0, "true\n")
    p = run("--policy", pol, s, "websocket.connect.url",
            "wss://chat.example.com.evil.net/ws/1")
    assert (p.returncode, p.stdout) == (0, "false\n")


def test_files_combine(run, tmp_path):
    a = write(tmp_path, "a.yaml", ALLOW_CHAT)
    b = write(tmp_path, "b.yaml", """\
namespace: u
entries:
  - name: no-lobby
    kind: security.policy
    policy: {actions: "*", resources: "wss://chat.example.com/ws/lobby",
             effect: deny}
""")
    s = script(tmp_path, CAN)
    p = run("--policy", a, "--policy", b, s, "websocket.connect.url",
            "wss://chat.example.com/ws/lobby")
    assert p.stdout == "false\n"
    p = run("--policy", a, "--policy", b, s, "websocket.connect.url",
            "wss://chat.example.com/ws/other")
    assert p.stdout == "true\n"
    # The same file twice: duplicate names.
    p = run("--policy", a, "--policy", a, "-e", "print(1)")
    assert p.returncode == 3
    assert "duplicate policy name 't:chat'" in p.stderr


def test_allow_url(run, tmp_path):
    s = script(tmp_path, CAN)
    p = run("--policy", DENY_ALL, "--allow-url", "wss://*.example.com", s,
            "websocket.connect", "wss://a.example.com/x")
    assert p.stdout == "true\n"
    p = run("--policy", DENY_ALL, "--allow-url", "wss://*.example.com", s,
            "websocket.connect.url", "wss://example.com/x")
    assert p.stdout == "false\n"
    p = run("--allow-url", "wss://u@x.com/", "-e", "print('ran')")
    assert p.returncode == 3
    assert p.stdout == ""
    assert "--allow-url wss://u@x.com/: userinfo" in p.stderr


def test_actor_options(run, tmp_path):
    pol = write(tmp_path, "p.yaml", """\
actor: {id: file-actor, meta: {role: guest, team: a}}
entries:
  - name: admins
    kind: security.policy
    policy:
      actions: x
      resources: "*"
      effect: allow
      conditions: [{field: actor.meta.role, operator: eq, value: admin}]
""")
    s = script(tmp_path, "local s = require('security') local a = s.actor() "
                         "print(a.id, a.meta.role, a.meta.team, s.can('x', 'r'))")
    p = run("--policy", pol, s)
    assert p.stdout == "file-actor\tguest\ta\tfalse\n"
    p = run("--policy", pol, "--actor", "cli", "--actor-meta", "role=admin",
            s)
    assert p.stdout == "cli\tadmin\ta\ttrue\n"
    p = run("--actor-meta", "novalue", "-e", "print(1)")
    assert p.returncode == 2
    assert "expected KEY=VALUE" in p.stderr
    p = run("--actor", "", "-e", "print(1)")
    assert p.returncode == 2


def test_audit_log(run, tmp_path):
    pol = write(tmp_path, "p.yaml", ALLOW_CHAT)
    log = tmp_path / "audit.jsonl"
    s = script(tmp_path, """
local s = require('security')
s.can('websocket.connect.url', 'wss://chat.example.com/ws/1')
s.can('websocket.connect.url', 'wss://evil.net/\\27[31m\\n{"forged":1}')
s.can('fs.read', '/etc/passwd')
""")
    p = run("--policy", pol, "--actor", "bo\"b", "--audit-log", str(log), s)
    assert p.returncode == 0, p.stderr
    lines = log.read_text().splitlines()
    assert json.loads(lines.pop(0))["event"] == "sandbox"  # always first
    recs = [json.loads(x) for x in lines]
    assert len(recs) == 2  # denials only
    assert recs[0]["decision"] == "deny"
    assert recs[0]["actor"] == "bo\"b"
    assert recs[0]["action"] == "websocket.connect.url"
    assert recs[0]["resource"].startswith("wss://evil.net/\x1b[31m\n")
    assert recs[0]["policy"] == "(invalid URL)"
    assert "\\u001b" in lines[0] and "\\n" in lines[0]
    assert recs[1] == {**recs[1], "action": "fs.read",
                       "resource": "/etc/passwd", "policy": "(default deny)"}
    for r in recs:
        assert set(r) >= {"time", "actor", "action", "resource", "decision",
                          "policy"}
    log.unlink()
    p = run("--policy", pol, "--audit-log", str(log), "--audit-all", s)
    recs = [json.loads(x) for x in log.read_text().splitlines()][1:]
    assert [r["decision"] for r in recs] == ["allow", "deny", "deny"]
    assert recs[0]["policy"] == "t:chat"
    assert recs[0]["resource"] == "wss://chat.example.com:443/ws/1"
    assert recs[0]["actor"] is None


def test_audit_options_errors(run, tmp_path):
    p = run("--audit-all", "-e", "print(1)")
    assert p.returncode == 2
    assert "--audit-all needs --audit-log" in p.stderr
    p = run("--audit-log", str(tmp_path / "no" / "dir.log"), "-e", "print(1)")
    assert p.returncode == 3
    assert p.stdout == ""
    assert "No such file or directory" in p.stderr


# sandlua policy lint

def test_lint(run):
    p = run("policy", "lint", *[str(g) for g in GOOD])
    assert p.returncode == 0, p.stderr
    assert f"{GOOD[0]}: ok" in p.stdout
    p = run("policy", "lint", str(EXAMPLES / "roles.yaml"), str(BAD[0]))
    assert p.returncode == 3
    assert "roles.yaml: ok (4 policies)" in p.stdout
    assert p.stderr.startswith(str(BAD[0]) + ":")
    p = run("policy", "lint")
    assert p.returncode == 2


# sandlua policy check

def test_check(run):
    one = str(EXAMPLES / "allow-one-host.yaml")
    p = run("policy", "check", "--policy", one, "websocket.connect.url",
            "WSS://CHAT.EXAMPLE.COM/ws/x")
    assert p.returncode == 0
    assert p.stdout == ("allow\npolicy: examples.one_host:chat\n"
                        "resource: wss://chat.example.com:443/ws/x\n")
    p = run("policy", "check", "--policy", one, "websocket.connect.url",
            "wss://evil.net/ws/x")
    assert p.returncode == 1
    assert p.stdout.startswith("deny\npolicy: (default deny)\n")
    p = run("policy", "check", "--policy", one, "--ip", "127.0.0.1",
            "websocket.connect.url", "wss://chat.example.com/ws/x")
    assert p.returncode == 1
    assert "policy: (special-purpose address)" in p.stdout
    assert "127.0.0.1 is a loopback address" in p.stdout
    p = run("policy", "check", "--policy", one, "websocket.connect.url",
            "wss://a@chat.example.com/ws/x")
    assert p.returncode == 1
    assert "policy: (invalid URL)\ndetail: userinfo" in p.stdout
    roles = str(EXAMPLES / "roles.yaml")
    p = run("policy", "check", "--policy", roles, "--actor", "root",
            "--actor-meta", "role=admin", "websocket.connect.url",
            "wss://ops.example.com/admin/1")
    assert (p.returncode, p.stdout.split("\n")[1]) == (
        0, "policy: examples.roles:admin")
    p = run("policy", "check", "--policy", roles, "--actor", "test-9",
            "x", "y")
    assert p.returncode == 1
    assert "policy: examples.roles:no-test-actors" in p.stdout


def test_check_errors(run, tmp_path):
    p = run("policy", "check", "--policy", str(BAD[0]), "a", "b")
    assert p.returncode == 3
    p = run("policy", "check", "a")
    assert p.returncode == 2
    p = run("policy", "check", "--ip", "300.1.1.1", "a", "b")
    assert p.returncode == 2
    p = run("policy", "check", "--bogus", "1", "a", "b")
    assert p.returncode == 2
    p = run("policy", "frobnicate")
    assert p.returncode == 2
    p = run("policy")
    assert p.returncode == 2
    p = run("policy", "--help")
    assert p.returncode == 0 and "usage:" in p.stdout


TYPOS = """\
version: "1.0"
namespace: t
entries:
  - name: a
    kind: security.polcy
    policy: {actions: [websocket.connect], resources: "*", effect: allow}
  - name: b
    kind: security.policy
    policy:
      actions: [websocket.conect, reports.read]
      resources: "*"
      effect: allow
  - name: c
    kind: function.lua
"""


def test_unknown_kinds_and_actions_are_errors(run, tmp_path):
    f = write(tmp_path, "typos.yaml", TYPOS)
    p = run("policy", "lint", f)
    assert p.returncode == 3 and "ok" not in p.stdout
    assert p.stderr.startswith(
        f"{f}:5:11: unknown kind 'security.polcy' (did you mean "
        "'security.policy'?); --allow-unknown makes this a warning")
    # the runtime refuses it the same way, before the script
    p = run("--policy", f, "-e", "print('ran')")
    assert (p.returncode, p.stdout) == (3, "")
    assert "unknown kind 'security.polcy'" in p.stderr
    # fix the kind: the action is next
    f2 = write(tmp_path, "typo2.yaml", TYPOS.replace("polcy", "policy"))
    p = run("policy", "lint", f2)
    assert p.returncode == 3
    assert ("10:17: unknown action 'websocket.conect' (did you mean "
            "'websocket.connect'?)") in p.stderr
    # --allow-unknown: warnings; reports.read (a script's own action for
    # security.can) and function.lua (a registry entry) were never errors
    p = run("policy", "lint", "--allow-unknown", f)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"{f}: ok (1 policy)\n"
    assert "warning: " in p.stderr and "reports.read" not in p.stderr
    assert "entry 'c' of kind 'function.lua' skipped" in p.stderr
    p = run("--allow-unknown", "--policy", f, "-e", "print('ran')")
    assert (p.returncode, p.stdout) == (0, "ran\n"), p.stderr
    for near in ("websocket.connect.uri", "websocket.*x", "websockets.connect"):
        g = write(tmp_path, "near.yaml", TYPOS.replace(
            "security.polcy", "security.policy").replace(
            "websocket.conect", near).replace("name: a", "name: z"))
        p = run("policy", "lint", g)
        assert p.returncode == 3 and f"unknown action '{near}'" in p.stderr, near
    ok = write(tmp_path, "ok.yaml", TYPOS.replace(
        "security.polcy", "security.policy").replace(
        "websocket.conect", "websocket.*"))
    assert run("policy", "lint", ok).returncode == 0


def test_refusals_say_what_would_allow_them(run, tmp_path):
    code = script(tmp_path, 'local c, e = require("websocket").connect('
                  'arg[1]) print(e:message())')
    p = run(code, "wss://chat.example.com/ws/1")
    assert p.stdout.strip().endswith(
        "no policy allows it (default deny); to allow it: --allow-url "
        "'wss://chat.example.com:443/*', or an allow policy for "
        "websocket.connect in a --policy file"), p.stdout
    p = run("--allow-url", "ws://*:*/*", code, "ws://10.0.0.1:81/x")
    assert ("10.0.0.1 is a private address, which no allow policy names "
            "explicitly; to allow it: an allow that names the address "
            "(--allow-url 'ws://10.0.0.1:81/*'") in p.stdout, p.stdout
    deny = write(tmp_path, "deny.yaml", """\
version: "1.0"
namespace: t
entries:
  - name: no-evil
    kind: security.policy
    policy: {actions: ["*"], resources: "ws://evil.test:*/*", effect: deny}
""")
    p = run("--policy", deny, "--allow-url", "ws://*:*/*", code,
            "ws://evil.test/x")
    assert p.stdout.strip().endswith(
        f"permission denied by policy t:no-evil ({deny}:4); a deny wins "
        "over every allow: change that policy to allow it"), p.stdout


def test_check_explain(run):
    p = run("policy", "check", "--explain",
            "--policy", str(EXAMPLES / "roles.yaml"),
            "--policy", str(EXAMPLES / "deny-internal.yaml"),
            "--allow-url", "wss://chat.example.com/*", "--ip", "10.0.0.5",
            "websocket.connect.url", "wss://chat.example.com/ws/1")
    assert p.returncode == 1, p.stderr
    out = p.stdout.split("explain:\n", 1)[1].splitlines()
    roles = str(EXAMPLES / "roles.yaml")
    assert out[0] == (f"  examples.roles:feed ({roles}:14): skipped: no "
                      "resource pattern matches wss://chat.example.com:443/ws/1")
    assert f"  examples.roles:no-test-actors ({roles}:51): skipped: " \
           "condition 1 (matches) is false" in out
    assert any(ln.startswith("  examples.internal:no-internal (") and
               ln.endswith("): applies: deny") for ln in out), out
    assert out[-1].endswith("(--allow-url): applies: allow")
    # without --ip, a condition on meta.ip waits for the address
    p = run("policy", "check", "--explain",
            "--policy", str(EXAMPLES / "deny-internal.yaml"),
            "websocket.connect.url", "wss://chat.example.com/ws/1")
    assert "waits for the resolved address (give --ip)" in p.stdout
    p = run("policy", "check", "--explain", "websocket.connect.url",
            "wss://a@b.test/")
    assert "invalid URL: userinfo" in p.stdout
    assert "(no policy loaded: everything is denied)" in p.stdout


def test_check_with_an_unknown_action(run):
    p = run("policy", "check", "websocket.conect", "ws://x.test/")
    assert p.returncode == 2 and p.stdout == ""
    assert ("unknown action 'websocket.conect' (did you mean "
            "'websocket.connect'?)") in p.stderr
    p = run("policy", "check", "--allow-unknown", "websocket.conect",
            "ws://x.test/")
    assert p.returncode == 1 and p.stdout.startswith("deny\n")
    assert "warning: unknown action" in p.stderr
    p = run("policy", "check", "reports.read", "/r/1")  # a script's action
    assert p.returncode == 1 and p.stderr == ""


def test_lint_reads_stdin_and_every_command_has_help(run, tmp_path):
    p = subprocess.run([sandlua_path(), "policy", "lint", "-"],
                       input=ALLOW_CHAT, capture_output=True, text=True,
                       timeout=30)
    assert (p.returncode, p.stdout) == (0, "<stdin>: ok (1 policy)\n")
    p = subprocess.run([sandlua_path(), "policy", "lint", "-"],
                       input="entries: [\n", capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 3 and p.stderr.startswith("<stdin>:")
    for cmd in ("lint", "check", "test"):
        p = run("policy", cmd, "--help")
        assert p.returncode == 0, (cmd, p.stderr)
        assert p.stdout.startswith(f"usage: sandlua policy {cmd} ")
        assert "--allow-unknown" in p.stdout
    p = run("policy", "lint", "--bogus", "x.yaml")
    assert p.returncode == 2


def test_test_verbose_run_and_json(run):
    cases = str(EXAMPLES / "cases.yaml")
    p = run("policy", "test", "-v", "--run", "chat", cases)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[:2] == ["TAP version 13", "1..2"]
    assert lines[2] == "ok 1 - the chat host is allowed"
    assert lines[3].endswith("cases.yaml:12: allow by examples.one_host:chat")
    assert lines[-1] == "# 2 passed, 0 failed"
    p = run("policy", "test", "--format", "json", "--run", "^userinfo", cases)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["passed"] == 1 and doc["failed"] == 0
    assert [c["name"] for c in doc["cases"]] == ["userinfo is rejected"]
    assert doc["cases"][0]["line"] == 21 and doc["cases"][0]["ok"] is True
    p = run("policy", "test", "--run", "no such case", cases)
    assert p.returncode == 0 and "1..0" in p.stdout
    for bad, why in ((["--run", "("], "--run (:"),
                     (["--format", "xml"], "must be tap or json")):
        p = run("policy", "test", *bad, cases)
        assert p.returncode == 2 and why in p.stderr, p.stderr


# sandlua policy test

def test_example_cases_pass(run, tmp_path):
    junit = tmp_path / "j.xml"
    p = run("policy", "test", "--junit", str(junit),
            str(EXAMPLES / "cases.yaml"))
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout.splitlines()
    assert out[0] == "TAP version 13"
    n = int(out[1].split("..")[1])
    assert n >= 10
    assert sum(1 for x in out if x.startswith("ok ")) == n
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert root.get("tests") == str(n) and root.get("failures") == "0"


def test_failing_case(run, tmp_path):
    pol = write(tmp_path, "p.yaml", ALLOW_CHAT)
    cases = write(tmp_path, "c.yaml", """\
policies: [p.yaml]
cases:
  - name: right
    action: websocket.connect.url
    resource: wss://chat.example.com/ws/1
    expect: allow
    policy: t:chat
  - name: wrong <&>
    action: websocket.connect.url
    resource: wss://evil.net/
    expect: allow
  - name: wrong policy
    action: websocket.connect.url
    resource: wss://chat.example.com/ws/1
    expect: allow
    policy: t:other
  - action: websocket.connect.url
    resource: "wss://x/\\\\"
    expect: invalid
""")
    assert pol
    junit = tmp_path / "j.xml"
    p = run("policy", "test", "--junit", str(junit), cases)
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert lines[:3] == ["TAP version 13", "1..4", "ok 1 - right"]
    assert "not ok 2 - wrong <&>" in lines
    assert "not ok 3 - wrong policy" in lines
    assert "ok 4 - websocket.connect.url wss://x/\\" in lines
    assert any("expected allow, got deny by (default deny)" in x
               for x in lines)
    assert any(x == f"  at: {cases}:8" for x in lines)
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "2"
    failed = [tc for tc in root.iter("testcase") if tc.find("failure")
              is not None]
    assert [tc.get("name") for tc in failed] == ["wrong <&>", "wrong policy"]
    assert "expected allow by t:other, got allow by t:chat" in \
        failed[1].find("failure").get("message")


def test_bad_cases_file(run, tmp_path):
    cases = write(tmp_path, "c.yaml", "cases:\n  - action: x\n    expect: maybe\n")
    p = run("policy", "test", cases)
    assert p.returncode == 3
    assert p.stderr == f"{cases}:2:5: case without 'resource'\n"
    cases = write(tmp_path, "d.yaml", "cases:\n  - {action: x, resource: y, "
                  "expect: maybe}\n")
    p = run("policy", "test", cases)
    assert p.returncode == 3
    assert "expect must be allow, deny or invalid, not 'maybe'" in p.stderr
    p = run("policy", "test")
    assert p.returncode == 2


def test_big_file_and_lua_init(run, tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1024 * 1024) + "\nentries: []\n")
    env = {**os.environ, "LUA_INIT": "print('init ran')"}
    p = run("--policy", str(big), "-e", "print(1)", env=env)
    assert p.returncode == 3
    assert p.stdout == ""
    assert p.stderr == f"{big}:1:1: file larger than 1 MiB\n"
    p = run("--policy", str(BAD[0]), env=env)
    assert p.returncode == 3
    assert p.stdout == ""


# ---- StrictModes: who may write a policy decides it -----------------------

def trusted_dir(tmp_path):
    d = tmp_path / "pol"
    d.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    return d


@pytest.mark.parametrize("mode,why", [
    (0o664, "the file is writable by its group (chmod go-w)"),
    (0o646, "the file is writable by others (chmod go-w)"),
])
def test_policy_file_writable_by_others_is_refused(run, tmp_path, mode, why):
    d = trusted_dir(tmp_path)
    f = d / "p.yaml"
    f.write_text(ALLOW_CHAT)
    os.chmod(f, 0o644)
    assert run("policy", "lint", str(f)).returncode == 0
    os.chmod(f, mode)
    for args in (["policy", "lint", str(f)],
                 ["--policy", str(f), "-e", "print('ran')"],
                 ["policy", "check", "--policy", str(f), "websocket.connect",
                  "wss://chat.example.com/ws/x"]):
        p = run(*args)
        assert p.returncode == 3, (args, p.stdout, p.stderr)
        assert p.stdout == ""
        assert f"{f}:1:1: refused: {why}" in p.stderr


def test_policy_directory_writable_by_others_is_refused(run, tmp_path):
    d = trusted_dir(tmp_path)
    f = d / "p.yaml"
    f.write_text(ALLOW_CHAT)
    os.chmod(f, 0o644)
    os.chmod(d, 0o777)
    p = run("policy", "lint", str(f))
    assert p.returncode == 3
    assert f"refused: the directory {d} is writable by its group" in p.stderr
    os.chmod(d, 0o1777)  # sticky, but not root's: still refused
    if os.getuid() == 0:
        os.chown(d, 1, 1)
        p = run("policy", "lint", str(f))
        assert p.returncode == 3 and "owned by uid 1" in p.stderr
        os.chown(d, 0, 0)
        # sticky and root's, as /tmp: nobody else can replace the file
        assert run("policy", "lint", str(f)).returncode == 0


def test_policy_file_owner_must_be_root_or_me(run, tmp_path):
    if os.getuid() != 0:
        pytest.skip("needs root to give the file away")
    d = trusted_dir(tmp_path)
    f = d / "p.yaml"
    f.write_text(ALLOW_CHAT)
    os.chmod(f, 0o644)
    os.chown(f, 1000, 1000)
    p = run("policy", "lint", str(f))
    assert p.returncode == 3
    assert "the file is owned by uid 1000, not by root or uid 0" in p.stderr


def test_policy_symlink_is_judged_by_its_target(run, tmp_path):
    d = trusted_dir(tmp_path)
    f = d / "p.yaml"
    f.write_text(ALLOW_CHAT)
    os.chmod(f, 0o644)
    link = d / "link.yaml"
    link.symlink_to(f)
    assert run("policy", "lint", str(link)).returncode == 0
    os.chmod(f, 0o666)
    p = run("policy", "lint", str(link))
    assert p.returncode == 3 and "the file is writable by" in p.stderr
    os.chmod(f, 0o644)
    bad = tmp_path / "open"
    bad.mkdir()
    os.chmod(bad, 0o777)
    g = bad / "p.yaml"
    g.write_text(ALLOW_CHAT)
    os.chmod(g, 0o644)
    link2 = d / "link2.yaml"
    link2.symlink_to(g)
    p = run("policy", "lint", str(link2))
    assert p.returncode == 3
    assert f"the directory {bad} is writable" in p.stderr


# ---- the audit log cannot be turned against the host ----------------------

DENIALS = ("local s = require('security') "
           "for i = 1, 5000 do s.can('x', 'r' .. i) end print('done')")


def test_audit_log_is_bounded_and_summed_up(run, tmp_path):
    log = tmp_path / "audit.jsonl"
    p = run("--audit-log", str(log), "--audit-log-max", "8K", "-e", DENIALS)
    assert p.returncode == 0 and p.stdout == "done\n", p.stderr
    lines = log.read_text().splitlines()
    assert log.stat().st_size < 8192 + 512
    recs = [json.loads(x) for x in lines]
    last = recs[-1]
    assert last["event"] == "audit" and int(last["dropped"]) > 4000
    assert last["max_bytes"] == "8192"
    assert len({r["run"] for r in recs}) == 1 and len(recs[0]["run"]) == 16


def test_audit_log_max_errors(run, tmp_path):
    p = run("--audit-log-max", "1M", "-e", "1")
    assert p.returncode == 2 and "--audit-log-max needs --audit-log" in p.stderr
    for bad in ("1Q", "-1", "100"):
        p = run("--audit-log", str(tmp_path / "a"), "--audit-log-max", bad,
                "-e", "1")
        assert p.returncode == 2, (bad, p.stderr)


def test_audit_log_refuses_links_fifos_and_devices(run, tmp_path):
    target = tmp_path / "target"
    link = tmp_path / "link"
    link.symlink_to(target)  # dangling: its target must not be created
    p = run("--audit-log", str(link), "-e", "print('ran')")
    assert p.returncode == 3 and p.stdout == ""
    assert "a symbolic link (refused)" in p.stderr
    assert not target.exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    p = run("--audit-log", str(fifo), "-e", "print('ran')", timeout=10)
    assert p.returncode == 3 and "not a regular file" in p.stderr
    p = run("--audit-log", "/dev/null", "-e", "print('ran')")
    assert p.returncode == 3 and "not a regular file" in p.stderr


def test_audit_write_error_ends_the_run(sandlua, tmp_path):
    # A file-size limit stands in for a full disk: the first record that
    # cannot be written ends the run with its own status and one message.
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    log = tmp_path / "audit.jsonl"
    p = subprocess.run(["prlimit", "--fsize=4096:4096", sandlua,
                        "--audit-log", str(log), "-e", DENIALS],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 10, p.stderr
    assert "done" not in p.stdout
    assert p.stderr.count("sandlua: audit log: a record could not be "
                          "written") == 1
