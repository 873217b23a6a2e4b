"""The container recipe (packaging/container/Containerfile) and the
Kubernetes Job example (packaging/k8s/job.yaml).

The image is built and run only where podman, buildah or docker works and
already has the debian:12-slim base image: the test never pulls from a
registry (it builds with --pull=never) and skips saying why otherwise.
The manifest is checked by k8s_schema.py, a strict check against the
fields of the batch/v1 Job and core/v1 ConfigMap schemas (kubeconform is
not packaged for Debian 12 nor on npm, and fetches its schemas from the
network).
"""
import copy
import os
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

import k8s_schema

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "packaging" / "container" / "Containerfile"
JOB = ROOT / "packaging" / "k8s" / "job.yaml"
BASE = "docker.io/library/debian:12-slim"


def sh(*args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(list(args), **kw)


def docs():
    return list(yaml.safe_load_all(JOB.read_text()))


def by_kind(ds, kind):
    [d] = [d for d in ds if d["kind"] == kind]
    return d


# ---------------------------------------------------------------- manifest

def test_job_manifest_validates():
    assert k8s_schema.validate(docs()) == []


def _set(path, value):
    def edit(ds):
        node = ds
        for k in path[:-1]:
            node = node[k]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return edit


POD = [1, "spec", "template", "spec"]
C0 = POD + ["containers", 0]
BROKEN = {
    "unknown-field": (_set(POD + ["securityContex"], {}), "unknown field"),
    "restart-always": (_set(POD + ["restartPolicy"], "Always"),
                       "restartPolicy"),
    "restart-typo": (_set(POD + ["restartPolicy"], "never"), "not one of"),
    "no-containers": (_set(POD + ["containers"], KeyError), "required"),
    "int-as-string": (_set([1, "spec", "backoffLimit"], "0"),
                      "expected an integer"),
    "bad-quantity": (_set(C0 + ["resources", "limits", "memory"], "256MB"),
                     "not a quantity"),
    "request-over-limit": (_set(C0 + ["resources", "requests", "memory"],
                                "1Gi"), "above its limit"),
    "bad-seccomp": (_set(POD + ["securityContext", "seccompProfile",
                                "type"], "Default"), "not one of"),
    "no-volume": (_set(POD + ["volumes"], []), "no volume"),
    "bad-name": (_set([1, "metadata", "name"], "Sandlua_Job"),
                 "DNS-1123"),
    "configmap-data-not-string": (_set([0, "data", "n"], 1),
                                  "expected a string"),
    "configmap-bad-key": (_set([0, "data", "a/b"], "x"), "bad key"),
    "args-not-list": (_set(C0 + ["args"], "--policy"), "expected an array"),
    "no-apiversion": (_set([1, "apiVersion"], "batch/v2"), "no schema"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_schema_check_fails_on_a_broken_manifest(name):
    edit, want = BROKEN[name]
    ds = copy.deepcopy(docs())
    edit(ds)
    errors = k8s_schema.validate(ds)
    assert any(want in e for e in errors), errors


def test_job_runs_one_script_per_pod_confined():
    ds = docs()
    cm, job = by_kind(ds, "ConfigMap"), by_kind(ds, "Job")
    spec = job["spec"]
    assert spec["completions"] == 1 and spec["parallelism"] == 1
    assert spec["backoffLimit"] == 0
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == \
        {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    [c] = pod["containers"]
    # The image tag is the release's (docs/packaging.md, "Making a release").
    h = (ROOT / "interp" / "interp.h").read_text()
    v = re.search(r'#define INTERP_VERSION "([^"]+)"', h)[1]
    assert c["image"] == f"sandlua:{v}"
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in sc["capabilities"] and not sc.get("privileged")
    limits = c["resources"]["limits"]
    assert {"cpu", "memory"} <= set(limits)
    # The policy and the script come from the ConfigMap, read-only.
    [vol] = pod["volumes"]
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    [mount] = c["volumeMounts"]
    assert mount["name"] == vol["name"] and mount["readOnly"] is True
    files = {i["path"]: i["key"] for i in vol["configMap"]["items"]}
    assert set(files.values()) == set(cm["data"]) == {"policy.yaml",
                                                      "script.lua"}
    args = c["args"]
    assert args[args.index("--policy") + 1] == \
        mount["mountPath"] + "/policy.yaml"
    assert args[-1] == mount["mountPath"] + "/script.lua"
    # sandlua's own memory limit is below the container's, so a script
    # that takes too much ends with exit 4, not the OOM killer.
    mem = args[args.index("--memory-limit") + 1]
    assert k8s_schema.quantity(mem.replace("M", "Mi")) < \
        k8s_schema.quantity(limits["memory"])


def test_job_policy_and_script_are_valid(sandlua, tmp_path):
    cm = by_kind(docs(), "ConfigMap")
    (tmp_path / "policy.yaml").write_text(cm["data"]["policy.yaml"])
    (tmp_path / "script.lua").write_text(cm["data"]["script.lua"])
    p = sh(sandlua, "policy", "lint", str(tmp_path / "policy.yaml"))
    assert p.returncode == 0, p.stdout + p.stderr
    url = re.search(r'connect\("([^"]+)"\)', cm["data"]["script.lua"])[1]
    p = sh(sandlua, "policy", "check", "--policy",
           str(tmp_path / "policy.yaml"), "websocket.connect.url", url)
    assert p.returncode == 0 and p.stdout.startswith("allow"), p.stdout
    p = sh(sandlua, "policy", "check", "--policy",
           str(tmp_path / "policy.yaml"), "websocket.connect.url",
           "wss://other.example.com/prices")
    assert p.returncode == 1 and p.stdout.startswith("deny"), p.stdout
    luac = shutil.which("luac5.4") or shutil.which("luac")
    if luac:
        p = sh(luac, "-p", str(tmp_path / "script.lua"))
        assert p.returncode == 0, p.stderr


# ---------------------------------------------------------------- image

def instructions():
    out = []
    for line in re.sub(r"\\\n", " ", CONTAINERFILE.read_text()).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_containerfile_installs_the_deb_as_a_non_root_user():
    ins = instructions()
    assert ins[0] == ("FROM", BASE)
    assert ("COPY", "sandlua_*.deb /tmp/") in ins
    run = " ".join(r for w, r in ins if w == "RUN")
    assert "apt-get install -y --no-install-recommends /tmp/sandlua_*.deb" \
        in run
    users = [r for w, r in ins if w == "USER"]
    assert users and not re.match(r"(0|root)(:|$)", users[-1])
    assert re.search(rf"--uid {users[-1].split(':')[0]}\b", run)
    assert [r for w, r in ins if w == "ENTRYPOINT"] == \
        ['["/usr/bin/sandlua"]']
    # Nothing needs a capability, a writable root or a volume.
    assert not [w for w, _ in ins if w in ("VOLUME", "EXPOSE")]
    assert "setcap" not in run and "chmod u+s" not in run


def engine():
    """(tool, None) for a container engine that works here with the base
    image present, or (None, why not)."""
    why = []
    for tool in ("podman", "buildah", "docker"):
        if not shutil.which(tool):
            why.append(f"{tool} is not installed")
            continue
        info = sh(tool, "info", timeout=60)
        if info.returncode != 0:
            why.append(f"{tool} does not work here: "
                       f"{(info.stderr.strip().splitlines() or [''])[-1]}")
            continue
        if tool == "podman":
            have = sh("podman", "image", "exists", BASE, timeout=60)
        elif tool == "buildah":
            have = sh("buildah", "inspect", "--type", "image", BASE,
                      timeout=60)
        else:
            have = sh("docker", "image", "inspect", BASE, timeout=60)
        if have.returncode != 0:
            why.append(f"{tool} has no local {BASE} image (the test does "
                       "not pull from a registry)")
            continue
        return tool, None
    return None, "; ".join(why)


def test_image_builds_and_runs_read_only_without_capabilities(tmp_path):
    tool, why = engine()
    if tool is None:
        pytest.skip(why)
    ctx = tmp_path / "context"
    p = sh("make", "--no-print-directory", "-C", str(ROOT), "deb",
           f"PKGOUT={ctx}")
    assert p.returncode == 0, p.stdout + p.stderr
    for f in ctx.iterdir():
        if not f.name.endswith(".deb"):
            f.unlink()
    tag = f"localhost/sandlua-test-{os.getpid()}"
    if tool == "buildah":
        build = sh("buildah", "bud", "--pull=never", "-f",
                   str(CONTAINERFILE), "-t", tag, str(ctx))
    else:
        build = sh(tool, "build", "--pull=never", "-f", str(CONTAINERFILE),
                   "-t", tag, str(ctx))
    assert build.returncode == 0, build.stdout + build.stderr
    runner = "podman" if tool == "buildah" else tool
    try:
        run = [runner, "run", "--rm", "--read-only", "--cap-drop=ALL",
               "--security-opt=no-new-privileges", "--network=none", tag]
        p = sh(*run)
        assert p.returncode == 0, p.stderr
        assert 'encoded:\t{"id":1042' in p.stdout
        p = sh(*run, "/usr/share/sandlua/examples/denied.lua")
        assert p.returncode == 0 and "permission denied" in p.stdout, \
            p.stdout + p.stderr
        p = sh(runner, "run", "--rm", "--read-only", "--cap-drop=ALL",
               "--entrypoint", "id", tag, "-u")
        assert p.stdout.strip() not in ("", "0"), p.stdout + p.stderr
    finally:
        sh(runner, "rmi", "-f", tag)
