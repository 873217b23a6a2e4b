"""The Debian and RPM packages: build, lintian, contents, install/purge.

make deb and make rpm build from a copy of the tree; the .deb is installed,
run, removed and purged in a throwaway root (an overlay over / in a mount
namespace of its own, root only): this system's dpkg database, /usr and
/etc are never touched.
"""
import contextlib
import gzip
import io
import os
import pathlib
import re
import shutil
import subprocess
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("SANITIZED") == "1",
    reason="the packages do not depend on the sanitizer build: "
           "make check builds and tests them")


def sh(*args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(list(args), **kw)


def version():
    h = (ROOT / "interp" / "interp.h").read_text()
    return re.search(r'#define INTERP_VERSION "([^"]+)"', h).group(1)


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            pytest.skip(f"{t} is not installed (scripts/deps.sh installs it)")


def package_files(stubs=True):
    """What both packages install, apart from docs and compressed names."""
    files = {"/usr/bin/sandlua", "/etc/sandlua/policy.yaml",
             "/usr/share/man/man1/sandlua.1",
             "/usr/share/man/man5/sandlua-policy.5"}
    files |= {"/usr/share/sandlua/types/" + p.name
              for p in (ROOT / "stdlib" / "types").glob("*.d.lua")}
    files |= {"/usr/share/sandlua/examples/" + p.name
              for p in (ROOT / "examples").glob("*.lua")}
    files |= {"/usr/share/sandlua/examples/policies/" + p.name
              for p in (ROOT / "policies" / "examples").glob("*.yaml")}
    files |= {"/usr/share/bash-completion/completions/sandlua"}
    return files


def doc_files():
    """The documentation both packages put in /usr/share/doc/sandlua."""
    doc = "/usr/share/doc/sandlua/"
    files = {doc + "README.md", doc + "policies/README.md"}
    files |= {doc + "docs/" + p.name for p in (ROOT / "docs").glob("*.md")}
    return files


# ---------------------------------------------------------------- deb

@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    need("dpkg-buildpackage", "dh")
    out = tmp_path_factory.mktemp("deb")
    env = dict(os.environ)
    env.setdefault("DEB_BUILD_OPTIONS", "parallel=2")
    p = sh("make", "--no-print-directory", "-C", str(ROOT), "deb",
           f"PKGOUT={out}", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    debs = list(out.glob("*.deb"))
    assert len(debs) == 1, debs
    arch = sh("dpkg", "--print-architecture").stdout.strip()
    assert debs[0].name == f"sandlua_{version()}-1_{arch}.deb"
    return debs[0]


def test_deb_lintian_reports_no_error_or_warning(deb):
    need("lintian")
    p = sh("lintian", "--fail-on", "error,warning", str(deb))
    tags = [l for l in p.stdout.splitlines() if re.match(r"[EW]: ", l)]
    assert p.returncode == 0 and not tags, p.stdout + p.stderr


def test_deb_contents_and_metadata(deb):
    listing = sh("dpkg-deb", "--fsys-tarfile", str(deb),
                 capture_output=True, text=False).stdout
    tmp = deb.parent / "x"
    with tarfile.open(fileobj=io.BytesIO(listing)) as tf:
        names = {m.name[1:] for m in tf.getmembers() if not m.isdir()}
        tf.extractall(tmp)
    # dh_compress compresses documentation over 4 KiB.
    names = {n[:-3] if n.startswith("/usr/share/doc/sandlua/") and
             n.endswith(".md.gz") else n for n in names}
    want = {f + ".gz" if "/man/" in f else f for f in package_files()}
    want |= doc_files()
    want |= {"/lib/systemd/system/sandlua@.service",
             "/usr/share/zsh/vendor-completions/_sandlua",
             "/usr/share/doc/sandlua/changelog.gz",
             "/usr/share/doc/sandlua/changelog.Debian.gz",
             "/usr/share/doc/sandlua/copyright",
             "/usr/share/lintian/overrides/sandlua"}
    assert names == want
    info = sh("dpkg-deb", "-f", str(deb), "Depends", "Architecture").stdout
    # Packages link the Lua VM statically (STATIC_LIBS=lua5.4) and every
    # other library shared, so that their security updates apply.
    for lib in ("libssl3", "libyaml-0-2", "libseccomp2", "libc-ares2",
                "zlib1g"):
        assert lib in info, lib
    assert "libwebsockets" not in info, info
    assert "liblua5.4" not in info, info
    needed = sh("objdump", "-p", str(tmp / "usr/bin/sandlua")).stdout
    assert "liblua5.4" not in needed and "libssl.so" in needed, needed
    conffiles = sh("dpkg-deb", "--ctrl-tarfile", str(deb),
                   capture_output=True, text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(conffiles)) as tf:
        cf = tf.extractfile("./conffiles").read().decode()
    assert cf.split() == ["/etc/sandlua/policy.yaml"]
    # Built with PREFIX=/usr: the default policy is the one in /etc.
    exe = (tmp / "usr/bin/sandlua").read_bytes()
    if b"sandlua/policy.yaml" in exe:
        assert b"/etc/sandlua/policy.yaml" in exe
        assert b"/usr/local/etc" not in exe
    # Hardening: PIE, full RELRO (bind now).
    dyn = sh("readelf", "-d", str(tmp / "usr/bin/sandlua")).stdout
    assert "BIND_NOW" in dyn and "PIE" in dyn
    unit = (tmp / "lib/systemd/system/sandlua@.service").read_text()
    assert "ExecStart=/usr/bin/sandlua --policy /etc/sandlua/%i.yaml" in unit
    # The upstream changelog is CHANGELOG.md.
    with gzip.open(tmp / "usr/share/doc/sandlua/changelog.gz", "rt") as f:
        assert f.read() == (ROOT / "CHANGELOG.md").read_text()
    home = sh("dpkg-deb", "-f", str(deb), "Homepage").stdout.strip()
    assert home.startswith("https://"), home


def test_deb_source_package(deb, tmp_path):
    """make deb builds the source package too, and it unpacks to the tree."""
    need("dpkg-source")
    v = version()
    dsc = deb.parent / f"sandlua_{v}-1.dsc"
    for f in (dsc, deb.parent / f"sandlua_{v}.orig.tar.gz",
              deb.parent / f"sandlua_{v}-1.debian.tar.xz"):
        assert f.is_file(), f
    text = dsc.read_text()
    assert "Format: 3.0 (quilt)" in text
    assert f"sandlua_{v}.orig.tar.gz" in text
    p = sh("dpkg-source", "--no-check", "-x", str(dsc),
           str(tmp_path / "src"))
    assert p.returncode == 0, p.stdout + p.stderr
    src = tmp_path / "src"
    assert (src / "debian" / "rules").is_file()
    assert (src / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert not (src / "build").exists()
    if shutil.which("lintian"):
        p = sh("lintian", "--fail-on", "error,warning", str(dsc))
        assert p.returncode == 0, p.stdout + p.stderr


def man_excluded():
    """Whether dpkg is set up not to install man pages (minimal images)."""
    conf = pathlib.Path("/etc/dpkg/dpkg.cfg.d")
    for f in (conf.iterdir() if conf.is_dir() else []):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in f.read_text().splitlines():
                if line.startswith("path-exclude") and "/usr/share/man" in line:
                    return True
    return False


# Run inside `unshare --mount`: an overlay whose lower layer is / and whose
# upper layer is a temporary folder, /proc and /dev bound in, then the
# package's whole life in a chroot of it.  Each step prints a line.
THROWAWAY = r"""
set -eu
T=$1 DEB=$2
mkdir -p "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay \
  -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
mount --rbind /proc "$T/root/proc"
mount --rbind /dev "$T/root/dev"
mount -t tmpfs tmpfs "$T/root/tmp"
cp "$DEB" "$T/root/tmp/sandlua.deb"
in_root() { chroot "$T/root" "$@"; }
st() { in_root dpkg-query -W -f '${db:Status-Abbrev}' sandlua 2>/dev/null \
       | tr -d ' ' || true; }
echo "before: $(st)"
DEBIAN_FRONTEND=noninteractive in_root dpkg --force-unsafe-io \
  -i /tmp/sandlua.deb >/dev/null
echo "installed: $(st)"
in_root /usr/bin/sandlua /usr/share/sandlua/examples/errors.lua \
  | grep -q 'kind:	INVALID' && echo "example: ok"
in_root /usr/bin/sandlua -e 'print(errors.TIMEOUT)'
for page in sandlua sandlua-policy; do
  in_root man -w "$page" >/dev/null 2>&1 && echo "man $page: ok" || true
done
[ -f "$T/root/etc/sandlua/policy.yaml" ] && echo "conffile: ok"
if in_root sh -c 'command -v systemd-analyze' >/dev/null; then
  cp "$T/root/lib/systemd/system/sandlua@.service" \
     "$T/root/tmp/sandlua@demo.service"
  man=yes; [ "$3" = noman ] && man=no
  in_root systemd-analyze verify --man=$man /tmp/sandlua@demo.service \
    2>&1 | sed 's/^/verify: /'
  echo "verify: done"
fi
in_root dpkg --force-unsafe-io -r sandlua >/dev/null
[ ! -e "$T/root/usr/bin/sandlua" ] && echo "removed: ok"
[ -f "$T/root/etc/sandlua/policy.yaml" ] && echo "conffile kept: ok"
echo "after remove: $(st)"
in_root dpkg --force-unsafe-io -P sandlua >/dev/null
[ ! -e "$T/root/etc/sandlua" ] && echo "purged: ok"
echo "after purge: $(st)"
"""


def throwaway_root_lacks():
    """Why no throwaway root can be made here, or None."""
    if os.geteuid() != 0:
        return "installing a package in a throwaway root needs root"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    p = sh("unshare", "--mount", "--propagation", "private", "true")
    if p.returncode != 0:
        return "no mount namespace here: " + p.stderr.strip()
    return None


def host_state():
    return (sh("dpkg-query", "-W", "-f", "${db:Status-Abbrev}",
               "sandlua").stdout,
            os.path.lexists("/usr/bin/sandlua"),
            os.path.lexists("/etc/sandlua"))


def test_deb_installs_runs_removes_and_purges(deb, tmp_path):
    why = throwaway_root_lacks()
    if why:
        pytest.skip(why)
    before = host_state()
    man = not man_excluded()
    p = sh("unshare", "--mount", "--propagation", "private", "sh", "-c",
           THROWAWAY, "sh", str(tmp_path / "root"), str(deb),
           "man" if man else "noman")
    if p.returncode != 0 and "overlay" in p.stderr and "mount" in p.stderr:
        pytest.skip("no overlay over / here: " + p.stderr.strip())
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout.splitlines()
    assert out[0] in ("before: ", "before: un", "before: pn"), out
    assert "installed: ii" in out
    assert "example: ok" in out and "TIMEOUT" in out
    if man:
        assert "man sandlua: ok" in out and "man sandlua-policy: ok" in out
    if shutil.which("systemd-analyze"):
        verify = [ln for ln in out if ln.startswith("verify: ")]
        assert verify == ["verify: done"], verify  # no complaint
    for step in ("conffile: ok", "removed: ok", "conffile kept: ok",
                 "after remove: rc", "purged: ok"):
        assert step in out, (step, out)
    assert out[-1] in ("after purge: ", "after purge: un",
                       "after purge: pn"), out
    # This system saw none of it.
    assert host_state() == before


# ---------------------------------------------------------------- rpm

@pytest.fixture(scope="module")
def rpm(tmp_path_factory):
    need("rpmbuild", "rpm2archive")
    out = tmp_path_factory.mktemp("rpm")
    p = sh("make", "--no-print-directory", "-C", str(ROOT), "rpm",
           f"PKGOUT={out}")
    assert p.returncode == 0, p.stdout + p.stderr
    rpms = list(out.glob("*.rpm"))
    assert len(rpms) == 1, rpms
    assert rpms[0].name.startswith(f"sandlua-{version()}-1.")
    return rpms[0]


def test_rpm_installs_the_same_files(rpm):
    p = sh("rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\\n]",
           str(rpm))
    assert p.returncode == 0, p.stderr
    files = {line.split(" ", 1)[1] for line in p.stdout.splitlines()
             if line.startswith("-")}
    files = {f for f in files if not f.startswith("/usr/lib/.build-id/")}
    want = package_files() | doc_files()
    want |= {"/usr/lib/systemd/system/sandlua@.service",
             "/usr/share/zsh/site-functions/_sandlua",
             "/usr/share/doc/sandlua/CHANGELOG.md"}
    lic = sh("rpm", "-qpL", str(rpm)).stdout.split()
    assert len(lic) == 1 and lic[0].endswith("/LICENSE"), lic
    assert files == want | set(lic)
    url = sh("rpm", "-qp", "--qf", "%{URL}", str(rpm)).stdout
    assert url.startswith("https://"), url
    # The systemd scriptlets: systemd sees the unit after an install, and
    # instances are stopped on removal and restarted after an upgrade.
    scripts = sh("rpm", "-qp", "--scripts", str(rpm)).stdout
    for part in ("postinstall", "preuninstall", "postuninstall"):
        assert f"{part} scriptlet" in scripts, scripts
    assert "sandlua@" in scripts and "systemctl" in scripts or \
        "systemd-update-helper" in scripts, scripts
    p = sh("rpm", "-qp", "--configfiles", str(rpm))
    assert p.stdout.split() == ["/etc/sandlua/policy.yaml"]
    # Unpack and run it.
    tmp = rpm.parent / "x"
    tmp.mkdir()
    with open(rpm, "rb") as f:
        arch = sh("rpm2archive", "-", stdin=f, capture_output=True,
                  text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(arch)) as tf:
        tf.extractall(tmp)
    r = sh(str(tmp / "usr/bin/sandlua"),
           str(tmp / "usr/share/sandlua/examples/errors.lua"))
    assert r.returncode == 0 and "kind:\tINVALID" in r.stdout, r.stderr


def test_package_versions_agree():
    v = version()
    ch = (ROOT / "packaging/debian/changelog").read_text().splitlines()[0]
    assert ch.startswith(f"sandlua ({v}-"), ch
    spec = (ROOT / "packaging/rpm/sandlua.spec").read_text()
    assert re.search(rf"^Version:\s+{re.escape(v)}$", spec, re.M)
    assert re.search(rf"^\* .* - {re.escape(v)}-1$", spec, re.M)
