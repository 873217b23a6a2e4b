"""Limits hold across the scheduler's tasks and event loop, and a policy's
`sandbox:` section sets them (the command line wins)."""
import json
import os
import re
import subprocess
import time

import pytest


def test_timeout_interrupts_a_task_blocked_in_the_loop(run):
    p = run("--timeout", "300ms", "-e", "time.sleep('30s') print('late')")
    assert p.returncode == 6, p.stderr
    assert "limit: timeout 300ms exceeded" in p.stderr
    assert "late" not in p.stdout


def test_timeout_interrupts_tasks_waiting_on_a_channel_and_a_timer(run):
    code = ("local c = channel.new() "
            "coroutine.spawn(function() time.sleep('20s') c:send(1) end) "
            "print(c:receive())")
    p = run("--timeout", "200ms", "-e", code)
    assert p.returncode == 6, p.stderr


def test_instruction_budget_is_shared_by_spawned_tasks(run):
    # Each task alone stays under the budget; together they exceed it.
    code = ("for i = 1, 200 do coroutine.spawn(function() "
            "local x = 0 for j = 1, 20000 do x = x + j end end) end "
            "time.sleep(0) print('done')")
    p = run("--instruction-limit", "1000000", "-e", code)
    assert p.returncode == 7, p.stderr
    assert "done" not in p.stdout
    ok = run("--instruction-limit", "100000000", "-e", code)
    assert ok.returncode == 0 and ok.stdout == "done\n", ok.stderr


@pytest.mark.parametrize("make", ["coroutine.resume(coroutine.create(f))",
                                  "coroutine.wrap(f)()"])
@pytest.mark.parametrize("mode", [[], ["--unsafe-no-sandbox"]])
def test_instruction_budget_is_shared_by_coroutines(run, make, mode):
    # The scheduler makes and resumes every coroutine; the limits' hooks
    # see each one, sandboxed or not: no fresh count per coroutine.
    code = ("local function f() local x = 0 for j = 1, 20000 do x = x + j "
            f"end end for i = 1, 200 do {make} end print('done')")
    p = run(*mode, "--instruction-limit", "1000000", "-e", code)
    assert p.returncode == 7, p.stderr
    assert "done" not in p.stdout


def test_memory_bomb_in_a_spawned_task(run):
    code = ("coroutine.spawn(function() local t = {} "
            "for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end end) "
            "time.sleep('5s') print('survived')")
    p = run("--memory-limit", "32M", "-e", code, timeout=60)
    assert p.returncode == 4, p.stderr
    assert "survived" not in p.stdout


def test_pcall_in_a_task_cannot_swallow_a_limit(run):
    code = ("coroutine.spawn(function() "
            "for i = 1, 100 do pcall(string.rep, 'x', 1e9) end "
            "print('swallowed') end) time.sleep('1s')")
    p = run("--memory-limit", "32M", "-e", code)
    assert p.returncode == 4, p.stderr
    assert "swallowed" not in p.stdout


def test_policy_sandbox_section_sets_limits_and_cli_wins(run, tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text('version: "1.0"\nnamespace: t\nsandbox:\n'
                   '  timeout: 200ms\nentries: []\n')
    p = run("--policy", str(pol), "-e", "time.sleep('10s')")
    assert p.returncode == 6, p.stderr
    assert "timeout 200ms" in p.stderr
    p = run("--policy", str(pol), "--timeout", "0", "-e",
            "time.sleep('300ms') print('ok')")
    assert p.returncode == 0 and p.stdout == "ok\n", p.stderr


def test_policy_sandbox_section_out_of_range_is_a_policy_error(run, tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text('version: "1.0"\nnamespace: t\nsandbox:\n'
                   '  memory_limit: 1K\nentries: []\n')
    p = run("--policy", str(pol), "-e", "print('ran')")
    assert p.returncode == 3, p.stderr
    assert "ran" not in p.stdout
    assert "memory" in p.stderr


def _limits_of(sandlua, args, stdout=subprocess.DEVNULL):
    """The kernel's limits of a running sandboxed sandlua (/proc)."""
    p = subprocess.Popen([sandlua, *args, "-e", "time.sleep('2s')"],
                         stdout=stdout, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            time.sleep(0.02)
            text = open(f"/proc/{p.pid}/limits").read()
            if re.search(r"^Max processes\s+0\s", text, re.M):
                break  # locked down
        return {m[1].strip(): (m[2], m[3]) for m in re.finditer(
            r"^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)", text, re.M)}
    finally:
        p.kill()
        p.wait()


def test_core_file_size_and_address_space_backstops(sandlua):
    if os.environ.get("SANITIZED"):
        pytest.skip("the sanitizers reserve terabytes of address space")
    lim = _limits_of(sandlua, ["--memory-limit", "100M"])
    assert lim["Max core file size"] == ("0", "0")
    assert lim["Max file size"] == ("0", "0")  # stdout is no file
    assert lim["Max address space"][0] == str(2 * 100 * 2**20 + 2**30)


def test_file_size_follows_the_output_cap_when_stdout_is_a_file(
        sandlua, tmp_path):
    out = tmp_path / "out"
    out.write_bytes(b"x" * 1000)
    with open(out, "ab") as f:
        lim = _limits_of(sandlua, ["--max-output", "1M"], stdout=f)
        assert lim["Max file size"][0] == str(1000 + 2**20 + 2**16)
        none = _limits_of(sandlua, [], stdout=f)
        assert none["Max file size"][0] == "unlimited"


@pytest.mark.parametrize("args,warning,state", [
    ([], None, "strict"),
    (["--seccomp", "log"], "seccomp log (--seccomp log)", "log"),
    (["--seccomp", "off"], "seccomp off (--seccomp off)", "off"),
])
def test_layers_are_reported_and_audited_first(run, tmp_path, args, warning,
                                              state):
    log = tmp_path / "audit.jsonl"
    p = run(*args, "--audit-log", str(log), "-e", "print('ran')")
    assert p.returncode == 0 and p.stdout == "ran\n", p.stderr
    if warning is None:
        assert "warning: sandbox" not in p.stderr
    else:
        assert p.stderr.count(f"sandlua: warning: sandbox: {warning}") == 1
    first = json.loads(log.read_text().splitlines()[0])
    assert first["event"] == "sandbox" and first["seccomp"] == state
    assert first["environment"] == "on"
    assert {"landlock_abi", "landlock_network", "rlimits"} <= first.keys()


def test_a_policy_cannot_loosen_the_sandbox(run, tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text('sandbox:\n  seccomp: "off"\nentries: []\n')
    p = run("--policy", str(pol), "-e", "print('ran')")
    assert p.returncode == 3 and p.stdout == ""
    assert "would loosen the sandbox" in p.stderr
    pol.write_text('sandbox:\n  memory_limit: 1G\nentries: []\n')
    p = run("--policy", str(pol), "-e", "print('ran')")
    assert p.returncode == 3 and "--memory-limit on the command line" in p.stderr
    # the command line may loosen
    pol.write_text('sandbox:\n  memory_limit: 128M\nentries: []\n')
    p = run("--policy", str(pol), "--memory-limit", "1G", "-e", "print('ran')")
    assert p.returncode == 0 and p.stdout == "ran\n"
