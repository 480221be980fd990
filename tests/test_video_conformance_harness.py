"""The local video conformance harness (zoo.repro.harness.video_conformance) on a fake checkout.

The real comparisons need the authors' checkouts (not available in CI); their committed reports
(repro/conformance/*.json) are checked for provenance and for what they claim.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.repro.harness import video_conformance as vc

REPORTS = sorted((Path(__file__).resolve().parents[1] / "repro" / "conformance").glob("*.json"))


def test_load_defs_and_block_read_a_checkout(tmp_path):
    (tmp_path / "m.py").write_text(
        "import nothing_installed\n"
        "def f(x):\n    return x + 1\n"
        "class C:\n    def g(self, x):\n        return 2 * x\n"
        "def model_forward(y):\n    # >>> start\n    z = y * 3\n    # <<< stop\n    return z\n")
    ns = vc.load_defs(tmp_path, "m.py", {"f"}, methods_of=("C", {"g"}))
    assert ns["f"](1) == 2 and ns["g"](None, 2) == 4  # the module's own imports are not run
    block = vc.load_block(tmp_path, "m.py", lambda s: ">>> start" in s, lambda s: "<<< stop" in s)
    env = {"y": 5}
    exec(block, env)
    assert env["z"] == 15


def test_main_skips_methods_without_a_checkout(capsys):
    assert vc.main(["--method", "vidcom2"]) == 0
    assert "needs --official xuyang-liu16/VidCom2=PATH" in capsys.readouterr().out


@pytest.mark.parametrize("path", REPORTS, ids=[p.stem for p in REPORTS])
def test_committed_reports(path):
    rep = json.loads(path.read_text())
    repo, commit, files = vc.OFFICIAL[rep["method"]]
    assert rep["official"]["repository"] == repo and rep["official"]["commit"] == commit
    assert rep["official"]["commit_verified"] and rep["official"]["files"] == list(files)
    assert set(rep["dtypes"]) == set(vc.DTYPES)
    tolerance = {"float64": 1e-12, "float32": 1e-5, "bfloat16": 1e-2}
    for dtype, row in rep["dtypes"].items():
        assert row["cases"] > 0 and row["identical_indices"] == row["cases"]
        assert row["max_abs_diff"] <= tolerance[dtype], (rep["method"], dtype, row)
