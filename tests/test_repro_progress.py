"""Issue 17: long `tokzoo repro` runs show what they are doing (on stderr, also when stderr is not a
terminal), at most one line every few seconds per claim; `--json` stdout stays JSON Lines only."""

from __future__ import annotations

import json
import textwrap

import pytest
import typer
from typer.testing import CliRunner

SCRIPT = textwrap.dedent('''
    from zoo.repro import Claim, Measurement, PaperSpec, Source

    def measure(ctx):
        for i in range(3):
            ctx.progress(f"timing pair {i + 1}/3")
        return Measurement(2.0)

    SPEC = PaperSpec("slow", "Slow", "", method="slow", claims=[
        Claim(id="speed", kind="latency", description="d", reported=2.0, unit="x", setting={"model": "m"},
              source=Source("README@abc", "Table 1"), measure=measure, tolerance=0.1),
    ])
''')


@pytest.fixture
def slow_repro(tmp_path, monkeypatch):
    folder = tmp_path / "repro"
    folder.mkdir()
    (folder / "slow.py").write_text(SCRIPT)
    monkeypatch.setenv("TOKZOO_REPRO_DIR", str(folder))
    monkeypatch.setenv("TOKZOO_RESULTS_DIR", str(tmp_path / "results"))
    return folder


def cli():
    from zoo.cli import repro_cmds

    app = typer.Typer()
    repro_cmds.register(app)
    app.command("noop")(lambda: None)
    return app


def test_progress_lines_on_stderr_throttled(slow_repro, monkeypatch):
    from zoo.cli import repro_cmds

    monkeypatch.setattr(repro_cmds, "_load", lambda: (0.1, 2))
    res = CliRunner().invoke(cli(), ["repro", "slow", "--no-write"])
    assert res.exit_code == 0, res.output
    assert "slow/speed: timing pair 1/3" in res.stderr  # the first step of a claim is always shown
    assert "timing pair 2/3" not in res.stderr  # then at most one line every PROGRESS_EVERY seconds
    monkeypatch.setattr(repro_cmds._Runner, "PROGRESS_EVERY", 0.0)
    res = CliRunner().invoke(cli(), ["repro", "slow", "--no-write", "--json"])
    assert res.exit_code == 0, res.output
    assert all(f"slow/speed: timing pair {i}/3" in res.stderr for i in (1, 2, 3))
    lines = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]  # stdout: JSON Lines only
    assert [next(iter(obj)) for obj in lines] == ["record", "paper", "totals"]
    assert "timing pair" not in res.stdout


def test_busy_machine_is_warned_before_a_speed_claim(slow_repro, monkeypatch):
    from zoo.cli import repro_cmds

    monkeypatch.setattr(repro_cmds, "_load", lambda: (7.25, 2))
    res = CliRunner().invoke(cli(), ["repro", "slow", "--no-write", "--json"])
    assert res.exit_code == 0, res.output
    assert "machine busy: load average 7.2 on 2 cores" in res.stderr and "machine busy" not in res.stdout
