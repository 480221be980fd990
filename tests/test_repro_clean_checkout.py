"""``tokzoo repro <id>`` leaves the checkout alone: records go to the per-user folder, and
``git status`` is the same before and after (only ``--record`` writes repro/results/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _status() -> str:
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True,
                         text=True)
    return out.stdout


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_git_status_unchanged_after_tokzoo_repro(tmp_path):
    before = _status()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("TOKZOO_RESULTS_DIR", "TOKZOO_REPRO_DIR"):
        env.pop(name, None)
    res = subprocess.run([sys.executable, "-m", "zoo", "repro", "pyramiddrop"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert _status() == before, "tokzoo repro changed the checkout"
    written = sorted(p.name for p in (tmp_path / "data" / "tokzoo" / "repro-results" / "pyramiddrop").glob("*.json"))
    assert "tflops-t5-llava15-fastv.json" in written
