"""The scheduler seen from outside: exit codes and reports on stderr."""
import os
import textwrap


def script(tmp_path, body, name="prog.lua"):
    (tmp_path / name).write_text(textwrap.dedent(body))
    return name  # run with cwd=tmp_path: short names in messages


def test_deadlock_report(run, tmp_path):
    path = script(tmp_path, """\
        local a, b = channel.new(), channel.new()
        coroutine.spawn(function()
          a:send(1)
        end)
        coroutine.spawn(function()
          channel.select{b:case_receive()}
        end)
        time.sleep("1ms")
        b:receive()
        """)
    r = run(path, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == "sandlua: deadlock: all tasks are blocked"
    assert f"  task 1 (main): channel.receive at {path}:9" in lines
    assert f"  task 2: channel.send at {path}:3" in lines
    assert f"  task 3: channel.select at {path}:6" in lines
    assert len(lines) == 4


def test_deadlock_inside_coroutine_names_its_line(run, tmp_path):
    path = script(tmp_path, """\
        local gen = coroutine.wrap(function()
          channel.new():receive()
        end)
        gen()
        """)
    r = run(path, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "sandlua: deadlock: all tasks are blocked",
        f"  task 1 (main): channel.receive at {path}:2"]


def test_error_in_spawned_task_ends_program(run, tmp_path):
    path = script(tmp_path, """\
        coroutine.spawn(function()
          local t = nil
          return t.field
        end)
        time.sleep("1ms")
        print("not reached")
        """)
    r = run(path, cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith(f"sandlua: {path}:3: attempt to index a nil "
                               "value (local 't')\nstack traceback:\n")
    assert f"{path}:3: in function <{path}:1>" in r.stderr


def test_error_object_in_task(run, tmp_path):
    path = script(tmp_path, """\
        coroutine.spawn(function() error(errors.new("custom failure")) end)
        time.sleep(0)
        """)
    r = run(path, cwd=tmp_path)
    assert r.returncode == 1
    assert "custom failure" in r.stderr
    assert "stack traceback:" in r.stderr


def test_program_ends_when_main_returns(run, tmp_path):
    path = script(tmp_path, """\
        coroutine.spawn(function()
          time.sleep("10s")
          print("never")
        end)
        coroutine.spawn(function() channel.new():receive() end)
        print("main done")
        """)
    r = run(path, timeout=5, cwd=tmp_path)
    assert r.returncode == 0
    assert r.stdout == "main done\n"
    assert r.stderr == ""


def test_tasks_run_under_e_and_results(run):
    r = run("-e", "local c = channel.new() "
            "coroutine.spawn(function() c:send('hi') end) print(c:receive())")
    assert r.returncode == 0
    assert r.stdout == "hi\ttrue\n"


def test_blocking_in_gc_at_exit(run, tmp_path):
    path = script(tmp_path, """\
        setmetatable({}, {__gc = function()
          local ok, err = pcall(time.sleep, "1ms")
          io.stderr:write(tostring(err), "\\n")
        end})
        """)
    r = run(path, cwd=tmp_path)
    assert r.returncode == 0
    assert "time.sleep: cannot block here (not inside a task)" in r.stderr


def test_repl_tasks(run):
    r = run("-i", input="c = channel.new(1)\nc:send(5)\nprint(c:receive())\n")
    assert "5\ttrue" in r.stdout


def _interrupt(sandlua, tmp_path, body):
    import signal
    import subprocess
    import time
    (tmp_path / "prog.lua").write_text(body)
    p = subprocess.Popen([sandlua, "prog.lua"], cwd=tmp_path, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=5)
    return p.returncode, err


def test_sigint_while_every_task_waits(sandlua, tmp_path):
    rc, err = _interrupt(sandlua, tmp_path, 'time.sleep("20s")\n')
    assert rc == 1
    assert err == "sandlua: interrupted!\n"


def test_sigint_in_a_busy_task(sandlua, tmp_path):
    rc, err = _interrupt(sandlua, tmp_path,
                         "coroutine.spawn(function() while true do end end)\n"
                         "time.sleep(0)\n")
    assert rc == 1
    assert err.startswith("sandlua: interrupted!\nstack traceback:\n")
    assert "prog.lua:1: in function <prog.lua:1>" in err


def _syscalls(sandlua, n):
    import re
    import subprocess
    code = ("local a, b = channel.new(), channel.new() "
            "coroutine.spawn(function() while true do b:send(a:receive()) end end) "
            f"for i = 1, {n} do a:send(i); b:receive(); time.sleep(0) end")
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0"  # LeakSanitizer cannot run traced
    r = subprocess.run(["strace", "-f", "-c", "-o", "/dev/stdout", sandlua,
                        "-e", code], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    # rows: % time, seconds, usecs/call, calls, [errors,] syscall.  ASan's
    # longjmp interceptor calls sigaltstack: not ours, not counted.
    total = 0
    for m in re.finditer(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$",
                         r.stdout, re.M):
        if m.group(2) not in ("sigaltstack", "total"):
            total += int(m.group(1))
    assert total > 0, r.stdout
    return total


def test_task_switches_make_no_system_call(sandlua):
    # 19000 more round trips (76000 more switches) than the first run.
    assert _syscalls(sandlua, 20000) - _syscalls(sandlua, 1000) < 20


def test_deadlock_report_is_capped(run):
    r = run("-e", "local c = channel.new() "
            "for i = 1, 100 do coroutine.spawn(function() c:send(i) end) end "
            "channel.new():receive()")
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[1] == "  task 1 (main): channel.receive at (command line):1"
    assert lines[-1] == "  ... and 51 more blocked tasks"
    assert len(lines) == 52


def test_empty_select_blocks_forever(run):
    r = run("-e", "channel.select{}")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "sandlua: deadlock: all tasks are blocked",
        "  task 1 (main): channel.select at (command line):1"]
