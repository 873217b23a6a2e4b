"""The Lua-API fuzzer (tests/fuzz/lua_api/fuzz.lua): random calls on every
module function and object method, from several tasks, with collections
between them, against a local echo server.  Every seed must end with exit
0 and its summary line, and with nothing from a sanitizer on stderr.
`make check` (and `make check-asan`) run a few seeds; `make fuzz` many
(LUA_FUZZ_SEEDS)."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests" / "fuzz" / "lua_api" / "fuzz.lua"
SEEDS = int(os.environ.get("LUA_FUZZ_SEEDS", "4"))
FIRST = int(os.environ.get("LUA_FUZZ_FIRST", "1"))
CALLS = os.environ.get("LUA_FUZZ_CALLS", "1500")
REPORTS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
           "UndefinedBehaviorSanitizer", "Segmentation fault")


@pytest.mark.parametrize("seed", range(FIRST, FIRST + SEEDS))
def test_lua_api_fuzz_seed(run, echo_server, seed):
    p = run("--allow-url", f"ws://127.0.0.1:{echo_server.port}/*",
            str(FUZZ), str(echo_server.port), str(seed), CALLS, timeout=120)
    assert p.returncode == 0, (seed, p.returncode, p.stderr[-4000:])
    assert p.stdout.splitlines()[-1].startswith(f"fuzz: seed {seed}, "), \
        p.stdout[-500:]
    for r in REPORTS:
        assert r not in p.stderr, (seed, p.stderr[-4000:])


def test_lua_api_fuzz_without_a_server(run):
    p = run(str(FUZZ), "-", "7", CALLS, timeout=120)
    assert p.returncode == 0, p.stderr[-4000:]
    assert "fuzz: seed 7, " in p.stdout
