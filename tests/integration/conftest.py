"""Shared fixtures of the integration tests: the binaries under test."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def sandlua_path():
    return os.environ.get("SANDLUA") or str(ROOT / "build" / "sandlua")


@pytest.fixture
def sandlua():
    path = sandlua_path()
    assert os.access(path, os.X_OK), f"{path} is not built"
    return path


def _landlock_warnings():
    """The lines sandlua prints on a kernel without Landlock, or whose
    Landlock has no network rules (ABI < 4): tests that compare stderr
    leave them out there, since they say what the kernel lacks, not what
    the test checks.  None on a kernel with both."""
    b = os.environ.get("B", "build")
    probe = ROOT / b / "tests" / "try-syscall"
    if not os.access(probe, os.X_OK):
        probe = ROOT / "build" / "tests" / "try-syscall"
    out = subprocess.run([str(probe), "--probe", "landlock"],
                         capture_output=True, text=True).stdout
    m = re.search(r"ABI (\d+)", out)
    if m and int(m[1]) >= 4:
        return None
    return re.compile(r"^sandlua: warning: Landlock[^\n]*\n", re.M)


_LANDLOCK_WARNINGS = []


@pytest.fixture
def run(sandlua):
    """run(*args, input=None, env=None) -> CompletedProcess of sandlua."""
    if not _LANDLOCK_WARNINGS:
        _LANDLOCK_WARNINGS.append(_landlock_warnings())
    strip = _LANDLOCK_WARNINGS[0]

    def _run(*args, input=None, env=None, timeout=60, cwd=None):
        p = subprocess.run([sandlua, *args], input=input, env=env,
                           capture_output=True, text=True,
                           timeout=timeout, cwd=cwd)
        if strip is not None and p.stderr:
            p.stderr = strip.sub("", p.stderr)
        return p
    return _run


@pytest.fixture
def lua54():
    path = shutil.which("lua5.4")
    assert path, "lua5.4 (Debian package lua5.4) is needed"
    return path

_FEATURES = {}


def kernel_lacks(feature):
    """Why this kernel lacks feature ("i386" IA32 emulation, "x32",
    "landlock", "netns", "seccomp-notify"), probed for real by try-syscall --probe; None when
    it has it.  Tests that need a feature skip with this reason."""
    if feature not in _FEATURES:
        b = os.environ.get("B", "build")
        probe = ROOT / b / "tests" / "try-syscall"
        if not os.access(probe, os.X_OK):
            probe = ROOT / "build" / "tests" / "try-syscall"
        p = subprocess.run([str(probe), "--probe", feature],
                           capture_output=True, text=True, timeout=30)
        _FEATURES[feature] = None if p.returncode == 0 else (
            f"the kernel has no {feature}: " + p.stdout.strip())
    return _FEATURES[feature]


def need_kernel(feature):
    why = kernel_lacks(feature)
    if why:
        pytest.skip(why)


from wsservers import certs, echo_server, fake_dns, ws_servers  # noqa: E402,F401
