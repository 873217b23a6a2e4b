"""The site policy: every SYSCONFDIR/sandlua/policy.d/*.yaml is loaded
before what the command line names, and its denies cannot be overridden by
--policy or --allow-url.  Each test runs sandlua in a private mount
namespace where a tmpfs over SYSCONFDIR holds the site policy, so the host
is never touched (root and mount namespaces needed, else a skip)."""
import os
import re
import shutil
import subprocess
import textwrap

import pytest

RUN = r"""
set -e
etc="$1"; src="$2"; shift 2
mount -t tmpfs -o mode=0755 tmpfs "$etc"
mkdir -p "$etc/sandlua/policy.d"
cp -p "$src"/* "$etc/sandlua/policy.d/" 2>/dev/null || true
[ -f "$src/.mode" ] && chmod "$(cat "$src/.mode")" "$etc/sandlua/policy.d/"*.yaml
exec "$@"
"""


def lacks():
    if os.geteuid() != 0:
        return "mounting a tmpfs over SYSCONFDIR needs root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    p = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "true"], capture_output=True, text=True)
    if p.returncode != 0:
        return "no mount namespace here: " + p.stderr.strip()
    return None


@pytest.fixture
def site(sandlua, tmp_path):
    why = lacks()
    if why:
        pytest.skip(why)
    m = re.search(r"(/\S+)/sandlua/policy\.yaml",
                  subprocess.run([sandlua, "--help"], capture_output=True,
                                 text=True).stdout)
    assert m, "--help names the default policy"
    etc = m.group(1)
    if not os.path.isdir(etc):
        pytest.skip(f"{etc} does not exist here (nothing to mount over)")
    src = tmp_path / "site"
    src.mkdir()

    def run(files, *argv, mode=None, stdin=None):
        for name, text in files.items():
            (src / name).write_text(textwrap.dedent(text))
        if mode:
            (src / ".mode").write_text(mode)
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             RUN, "sh", etc, str(src), *argv],
            capture_output=True, text=True, timeout=60, input=stdin)
    run.etc = etc
    return run


DENY = """\
    version: "1.0"
    namespace: site
    entries:
      - name: no-evil
        kind: security.policy
        policy:
          actions: [websocket.connect]
          resources: "ws://evil.test/*"
          effect: deny
    """

ALLOW = """\
    version: "1.0"
    namespace: site
    entries:
      - name: feeds
        kind: security.policy
        policy:
          actions: [websocket.connect]
          resources: "ws://feeds.test/*"
          effect: allow
    """


def user_policy(tmp_path):
    p = tmp_path / "user.yaml"
    p.write_text(textwrap.dedent("""\
        version: "1.0"
        namespace: user
        entries:
          - name: everything
            kind: security.policy
            policy:
              actions: ["*"]
              resources: "*"
              effect: allow
        """))
    return p


def test_site_deny_beats_allow_url_and_policy(site, sandlua, tmp_path):
    pol = user_policy(tmp_path)
    for opts in (["--allow-url", "ws://evil.test/*"], ["--policy", str(pol)]):
        r = site({"10-deny.yaml": DENY}, sandlua, "policy", "check", *opts,
                 "websocket.connect", "ws://evil.test/x")
        assert r.returncode == 1, r.stdout + r.stderr
        assert r.stdout.splitlines()[:2] == ["deny", "policy: site:no-evil"]
        # the runtime answers the same
        r = site({"10-deny.yaml": DENY}, sandlua, *opts, "-e", """
            local c, e = require("websocket").connect("ws://evil.test/x")
            print(e:kind(), e:details().policy)""")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["PERMISSION_DENIED", "site:no-evil"]
        r = site({"10-deny.yaml": DENY}, sandlua, *opts, "-e", """
            local c, e = require("websocket").connect("ws://evil.test/x")
            print(e:message())""")
        assert "it is the site policy (the operator's)" in r.stdout
    # what the site does not deny, the command line still decides
    r = site({"10-deny.yaml": DENY}, sandlua, "policy", "check", "--policy",
             str(pol), "websocket.connect", "ws://good.test/x")
    assert r.returncode == 0 and r.stdout.startswith("allow\n"), r.stdout


def test_site_allow_applies_without_options(site, sandlua):
    r = site({"20-allow.yaml": ALLOW, "README": "not a policy"}, sandlua,
             "policy", "check", "websocket.connect", "ws://feeds.test/a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[:2] == ["allow", "policy: site:feeds"]
    r = site({"20-allow.yaml": ALLOW}, sandlua, "policy", "check",
             "websocket.connect", "ws://other.test/a")
    assert r.returncode == 1  # strict: nothing else is allowed


def test_untrusted_site_file_is_an_error(site, sandlua):
    r = site({"10-deny.yaml": DENY}, sandlua, "-e", "print('ran')",
             mode="0666")
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout == ""
    assert "policy.d/10-deny.yaml" in r.stderr and "writable" in r.stderr


def test_invalid_site_file_stops_the_run(site, sandlua):
    r = site({"10-bad.yaml": "version: [\n"}, sandlua, "-e", "print('ran')")
    assert r.returncode == 3 and r.stdout == ""
    assert "policy.d/10-bad.yaml:" in r.stderr


def test_policy_test_ignores_the_site_policy(site, sandlua, tmp_path):
    # cases test the files they name, the same on every machine
    cases = tmp_path / "cases.yaml"
    pol = user_policy(tmp_path)
    cases.write_text(textwrap.dedent(f"""\
        policies: [{pol}]
        cases:
          - name: evil is allowed by the user policy alone
            action: websocket.connect
            resource: ws://evil.test/x
            expect: allow
        """))
    r = site({"10-deny.yaml": DENY}, sandlua, "policy", "test", str(cases))
    assert r.returncode == 0, r.stdout + r.stderr
