"""The layering of the sources (scripts/layers.py): every call goes to the
caller's own layer or one it uses, no two files reach each other, and no
function is exported that nothing outside its file calls.  Checked on the
objects of the build under test."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import layers  # noqa: E402

BUILD = ROOT / os.environ.get("B", "build")


def test_the_build_keeps_the_layers():
    assert layers.findings(BUILD) == []


def test_a_call_up_the_layers_is_found(tmp_path):
    """A net object calling into stdlib is reported (the check can fail)."""
    for layer in ("net", "stdlib"):
        (tmp_path / layer).mkdir()
    (tmp_path / "net" / "x.c").write_text(
        "void sl_up(void);\nvoid net_x(void) { sl_up(); }\n")
    (tmp_path / "stdlib" / "y.c").write_text(
        "void net_x(void);\nvoid sl_up(void) { net_x(); }\n")
    objs = {}
    for layer, name in (("net", "x"), ("stdlib", "y")):
        out = tmp_path / "build" / layer / f"{name}.o"
        out.parent.mkdir(parents=True)
        subprocess.run(["cc", "-c", "-o", str(out),
                        str(tmp_path / layer / f"{name}.c")], check=True)
        objs[layer] = out
    old = layers.ROOT
    layers.ROOT = tmp_path
    try:
        (tmp_path / "Makefile").write_text(
            (old / "Makefile").read_text())
        found = layers.findings(tmp_path / "build")
    finally:
        layers.ROOT = old
    assert any(f.startswith("layer: net/x (net) calls stdlib/y") for f in found)
    assert "cycle: net/x <-> stdlib/y" in found


@pytest.mark.parametrize("layer", ["common", "security", "sandbox", "net",
                                   "stdlib", "interp"])
def test_each_layer_is_a_folder_and_an_archive(layer):
    assert (ROOT / layer).is_dir()
    assert (BUILD / f"lib{layer}.a").is_file()
