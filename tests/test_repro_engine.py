"""zoo.repro engine: claims validation, needs -> skipped, comparison, records, status, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import typer
from typer.testing import CliRunner

import zoo.repro as zr
from zoo.repro.records import Record, read_record, save_record
from zoo.repro.spec import Claim, Measurement, PaperSpec, Source, compare, printed

SRC = Source("arXiv:0000.00000v1", "Table 1")


def claim(**kw) -> Claim:
    base = dict(id="c1", kind="analytic", description="d", reported=45, unit="%", setting={"model": "m"},
                source=SRC, measure=lambda ctx: Measurement(45.2), tolerance=printed(0))
    base.update(kw)
    return Claim(**base)


def test_claim_validation_names_the_field():
    with pytest.raises(ValueError, match="kind='speed'.*allowed: analytic"):
        claim(kind="speed")
    with pytest.raises(ValueError, match="direction='up'"):
        claim(direction="up")
    with pytest.raises(ValueError, match="need 'gpu' not understood"):
        claim(needs=("gpu",))
    with pytest.raises(ValueError, match="official:<owner>/<repo>@<commit>"):
        claim(needs=("official:ToMe@main",))
    with pytest.raises(ValueError, match="source must be a Source"):
        claim(source=Source("x", ""))
    with pytest.raises(ValueError, match="setting is empty"):
        claim(setting={})
    with pytest.raises(ValueError, match="duplicate claim id 'c1'"):
        PaperSpec("p", "t", "", [claim(), claim()])


def test_compare_directions_and_printed_precision():
    assert compare(claim(), 45.49) == "reproduced"
    assert compare(claim(), 45.51) == "deviates"
    assert compare(claim(), 44.5) == "reproduced"  # rounds to 45 (half-up edge)
    hi = claim(direction="higher", tolerance=0.5, reported=80.0)
    assert compare(hi, 90) == "reproduced" and compare(hi, 79.4) == "deviates"
    lo = claim(direction="lower", tolerance=0.1, reported=0.76)
    assert compare(lo, 0.5) == "reproduced" and compare(lo, 0.9) == "deviates"
    assert compare(claim(), float("nan")) == "deviates"


def spec_with(*claims: Claim) -> PaperSpec:
    return PaperSpec("toy", "Toy paper", "0000.00000", list(claims), method="toy")


def test_run_paper_records_each_status(tmp_path):
    def boom(ctx):
        raise RuntimeError("weights corrupt")

    spec = spec_with(
        claim(id="ok"),
        claim(id="off", measure=lambda ctx: Measurement(50.0), known_deviation="paper rounds differently"),
        claim(id="err", measure=boom),
        claim(id="gpu", kind="latency", needs=("cuda", "weights:org/model-x", "dataset:imagenet-val"), direction="lower"),
        claim(id="heavy", kind="latency", on_demand=True, direction="lower"),
    )
    opts = zr.RunOptions(results_dir=tmp_path, device="cpu", download=False)
    records = {r.claim_id: r for r in zr.run_paper(spec, opts)}
    assert records["ok"].status == "reproduced" and records["ok"].measured == pytest.approx(45.2)
    assert records["off"].status == "deviates" and records["off"].reason == "paper rounds differently"
    assert records["err"].status == "failed" and "weights corrupt" in records["err"].reason
    assert records["gpu"].status == "skipped"
    assert records["gpu"].reason == "needs cuda, weights org/model-x, dataset imagenet-val"
    assert records["heavy"].status == "skipped" and "--kind latency" in records["heavy"].reason
    # provenance is filled
    assert records["ok"].versions["python"] and records["ok"].date and records["ok"].hardware["cpu_count"]
    # files: one per claim, valid JSON, round-trip
    files = sorted(p.name for p in (tmp_path / "toy").glob("*.json"))
    assert files == ["err.json", "gpu.json", "heavy.json", "off.json", "ok.json"]
    assert read_record(tmp_path / "toy" / "ok.json") == records["ok"]
    assert not list((tmp_path / "toy").glob(".*tmp"))
    assert zr.derive_status(spec, records.values()) == "deviates"


def test_kind_selection_runs_on_demand_claims(tmp_path):
    spec = spec_with(claim(id="a"), claim(id="slow", kind="latency", on_demand=True, direction="lower",
                                          measure=lambda ctx: Measurement(0.5)))
    recs = zr.run_paper(spec, zr.RunOptions(kinds=("latency",), write=False))
    assert [(r.claim_id, r.status) for r in recs] == [("slow", "reproduced")]


def test_dataset_path_option_and_env(tmp_path, monkeypatch):
    seen = {}

    def measure(ctx):
        seen["path"] = ctx.data_path("imagenet-val")
        return Measurement(45.0)

    spec = spec_with(claim(id="acc", needs=("cpu", "dataset:imagenet-val"), measure=measure))
    assert zr.run_paper(spec, zr.RunOptions(write=False, download=False))[0].status == "skipped"
    monkeypatch.setenv("TOKZOO_DATA_IMAGENET_VAL", str(tmp_path))
    assert zr.run_paper(spec, zr.RunOptions(write=False, download=False))[0].status == "reproduced"
    assert seen["path"] == str(tmp_path)


def test_skipped_never_replaces_a_measured_record(tmp_path):
    spec = spec_with(claim(id="gpu", needs=("cuda",)))
    measured = zr.run_claim(spec, spec.claims[0], zr.RunOptions(device="auto"))
    measured.status, measured.measured, measured.reason = "reproduced", 45.0, ""
    assert save_record(measured, tmp_path) is not None
    skipped = zr.run_claim(spec, spec.claims[0], zr.RunOptions(device="cpu"))
    assert skipped.status == "skipped"
    assert save_record(skipped, tmp_path) is None
    assert read_record(tmp_path / "toy" / "gpu.json").status == "reproduced"
    skipped.status, skipped.measured, skipped.reason = "inconclusive", 40.0, "machine busy"
    assert save_record(skipped, tmp_path) is None  # nor does a busy-machine run erase a verdict
    assert read_record(tmp_path / "toy" / "gpu.json").status == "reproduced"


def test_status_derivation():
    spec = spec_with(claim(id="a"), claim(id="b"))

    def rec(cid, status):
        return Record("toy", cid, "analytic", status, 45.0, "%", measured=None if status == "skipped" else 45.0)

    assert zr.derive_status(spec, []) == "not run"
    assert zr.derive_status(spec, [rec("a", "skipped")]) == "not run"
    assert zr.derive_status(spec, [rec("a", "reproduced")]) == "partial"
    # only analytic claims: arithmetic alone is never called a reproduction
    assert zr.derive_status(spec, [rec("a", "reproduced"), rec("b", "reproduced")]) == "analytic only"
    assert zr.derive_status(spec, [rec("a", "reproduced"), rec("b", "failed")]) == "failed"
    assert zr.derive_status(spec, [rec("a", "deviates"), rec("b", "failed")]) == "deviates"
    assert zr.derive_status(spec, [rec("zzz", "deviates"), rec("a", "reproduced"), rec("b", "reproduced")]) == "analytic only"


def test_bad_record_file_is_named(tmp_path):
    path = tmp_path / "toy" / "x.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"paper_id": "toy", "claim_id": "x", "kind": "analytic", "status": "great",
                                "reported": 1, "unit": "%"}))
    with pytest.raises(ValueError, match="status='great'; allowed: reproduced"):
        read_record(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="x.json: not valid JSON"):
        read_record(path)


TOY_SCRIPT = textwrap.dedent('''
    from zoo.repro import Claim, Measurement, PaperSpec, Source

    def measure(ctx):
        return Measurement(ctx.claim.setting["value"])

    SPEC = PaperSpec("toy", "Toy", "", method="toy", claims=[
        Claim(id="good", kind="analytic", description="d", reported=3, unit="tokens", setting={"value": 3},
              source=Source("README@abc", "Table 1"), measure=measure),
        Claim(id="bad", kind="analytic", description="d", reported=3, unit="tokens", setting={"value": 4},
              source=Source("README@abc", "Table 2"), measure=measure),
        Claim(id="gpu", kind="accuracy", description="d", reported=80, unit="%", setting={"value": 80},
              source=Source("README@abc", "Table 3"), measure=measure, direction="higher",
              needs=("cuda", "weights:org/m", "dataset:org/d")),
    ])
''')


@pytest.fixture
def toy_repro(tmp_path, monkeypatch):
    folder = tmp_path / "repro"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY_SCRIPT)
    (folder / "_helper.py").write_text("")
    monkeypatch.setenv("TOKZOO_REPRO_DIR", str(folder))
    monkeypatch.setenv("TOKZOO_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folder


def cli():
    from zoo.cli import repro_cmds

    app = typer.Typer()
    repro_cmds.register(app)
    app.command("noop")(lambda: None)  # two commands: "repro" stays a subcommand
    return app


def test_loader_lists_and_reports_unknown_ids(toy_repro):
    assert zr.list_papers() == ["toy"]
    with pytest.raises(KeyError, match="no repro script for 'tyo'.*Did you mean toy"):
        zr.load_spec("tyo")


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_cli_table_json_strict_and_api(toy_repro, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli(), ["repro", "toy"])
    assert res.exit_code == 0, res.output
    assert "reproduced" in res.output and "deviates" in res.output and "needs cuda" in res.output
    assert "analytic 1/2, 1 deviates · accuracy 0/1, not run" in res.output  # status per kind
    res = runner.invoke(cli(), ["repro", "toy", "--strict"])
    assert res.exit_code == 1
    res = runner.invoke(cli(), ["repro", "toy", "--kind", "analytic", "--json", "--no-write"])
    assert res.exit_code == 0
    lines = _lines(res.stdout)  # JSON Lines: one record per claim, then the paper, then totals
    assert [next(iter(x)) for x in lines] == ["record", "record", "paper", "totals"]
    assert {x["record"]["claim_id"]: x["record"]["status"] for x in lines[:2]} == {"good": "reproduced", "bad": "deviates"}
    assert lines[2]["paper"]["kinds"]["analytic"]["text"] == "analytic 1/2, 1 deviates"
    assert lines[3]["totals"]["states"]["deviates"] == 1
    # the run wrote to the per-user folder (TOKZOO_RESULTS_DIR here), not to the committed records
    assert {p.stem for p in (tmp_path / "results" / "toy").glob("*.json")} == {"good", "bad", "gpu"}
    assert zr.load_results("toy") == [] and not (toy_repro / "results").exists()
    assert zr.paper_status("toy") == "not run"
    # --record writes the committed records, which the API, --list and show read
    res = runner.invoke(cli(), ["repro", "toy", "--record"])
    assert res.exit_code == 0, res.output
    assert {r.claim_id: r.status for r in zr.load_results("toy")} == {"good": "reproduced", "bad": "deviates", "gpu": "skipped"}
    assert zr.paper_status("toy") == "deviates"
    res = runner.invoke(cli(), ["repro", "--list"])
    assert res.exit_code == 0 and "toy" in res.output and "deviates" in res.output
    assert "analytic 1/2, 1 deviates" in res.output
    res = runner.invoke(cli(), ["repro", "toy", "--kind", "speed"])
    assert res.exit_code != 0 and "unknown claim kind 'speed'" in res.output and "latency, throughput" in res.output
    res = runner.invoke(cli(), ["repro", "nope"])
    assert res.exit_code == 2 and "no repro script for 'nope'" in res.output
    res = runner.invoke(cli(), ["repro", "toy", "--data-dir", "imagenet"])
    assert res.exit_code != 0 and "NAME=PATH" in res.output
    res = runner.invoke(cli(), ["repro", "toy", "--record", "--results-dir", str(tmp_path)])
    assert res.exit_code != 0 and "--record" in res.output


def test_default_results_folder_is_per_user_and_outside_the_checkout(monkeypatch, tmp_path):
    from zoo.repro import loader

    monkeypatch.delenv("TOKZOO_RESULTS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "platform", "linux")
    assert loader.user_results_dir() == tmp_path / "data" / "tokzoo" / "repro-results"
    monkeypatch.setenv("TOKZOO_RESULTS_DIR", str(tmp_path / "mine"))
    assert loader.user_results_dir() == tmp_path / "mine"
    assert zr.engine.output_dir(zr.RunOptions()) == tmp_path / "mine"


def test_tables_fit_80_columns_with_whole_claim_ids_and_tolerances(toy_repro):
    from rich.console import Console

    from zoo.cli import repro_cmds

    spec = zr.load_spec("toy")
    long_claim = claim(id="flops-reduction-llava-next-7b-k2-r50", reported=45, unit="%", tolerance=printed(0))
    spec.claims.append(long_claim)
    recs = zr.run_paper(spec, zr.RunOptions(write=False, download=False))
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    repro_cmds._table(console, spec, recs, zr)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for rec in recs:
        assert rec.claim_id in text  # never broken inside the id
    assert "44.5..45.5" in text and ">= 80" in text  # what each claim accepts (its tolerance)
    assert "needs cuda, weights org/m, dataset org/d" in " ".join(text.split())


def test_all_ends_with_totals_and_reports_progress(toy_repro, tmp_path):
    (toy_repro / "toy2.py").write_text(TOY_SCRIPT.replace('PaperSpec("toy"', 'PaperSpec("toy2"'))
    res = CliRunner().invoke(cli(), ["repro", "--all", "--no-write"])
    assert res.exit_code == 0, res.output
    assert "total: 2 papers, 6 claims: 2 reproduced, 2 deviates, 2 skipped" in res.output
    assert "analytic 2/4 · accuracy 0/2" in res.output
    assert "[6/6] toy2/gpu: skipped" in res.output  # non-terminal progress lines (stderr)


def test_busy_machine_warning(toy_repro, monkeypatch):
    from zoo.cli import repro_cmds

    monkeypatch.setattr(repro_cmds, "_load", lambda: (9.5, 2))
    res = CliRunner().invoke(cli(), ["repro", "toy", "--no-write"])
    assert res.exit_code == 0 and "machine busy" not in res.output  # no speed claim selected: no warning
    (toy_repro / "toy.py").write_text(TOY_SCRIPT.replace('kind="accuracy"', 'kind="latency"'))
    res = CliRunner().invoke(cli(), ["repro", "toy", "--no-write"])
    assert res.exit_code == 0 and "machine busy: load average 9.5 on 2 cores" in res.output
    monkeypatch.setattr(repro_cmds, "_load", lambda: (0.5, 2))
    assert repro_cmds.busy_warning() == ""


def _corrupt(folder, paper="toy", claim_id="good", text="{not json"):
    path = folder / paper / f"{claim_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_corrupt_committed_record_is_named_and_skipped(toy_repro):
    runner = CliRunner()
    assert runner.invoke(cli(), ["repro", "toy", "--record"]).exit_code == 0
    bad = _corrupt(toy_repro / "results", text=json.dumps({"paper_id": "toy", "claim_id": "good", "kind": "analytic",
                                                             "status": "reproduced", "reported": "45", "unit": "%"}))
    res = runner.invoke(cli(), ["repro", "--list"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "skipped a corrupt record" in out and "good.json" in res.output.replace("\n", "")
    assert "reported: expected number, got str" in out
    assert "toy" in res.output and "deviates" in res.output  # the other records still count
    problems: list[str] = []
    assert [r.claim_id for r in zr.load_results("toy", on_problem=problems.append)] == ["bad", "gpu"]
    assert len(problems) == 1 and str(bad) in problems[0]
    with pytest.warns(UserWarning, match="good.json"):
        zr.load_results("toy")
    # a record in the wrong file is not counted for that file's claim
    moved = toy_repro / "results" / "toy" / "gpu.json"
    data = json.loads(moved.read_text())
    data["claim_id"] = "bad"
    moved.write_text(json.dumps(data))
    problems.clear()
    assert [r.claim_id for r in zr.load_results("toy", on_problem=problems.append)] == ["bad"]
    assert "expected toy/gpu" in problems[1]


def test_claim_run_never_overwrites_a_corrupt_record(toy_repro):
    runner = CliRunner()
    bad = _corrupt(toy_repro / "results")
    res = runner.invoke(cli(), ["repro", "toy", "--claim", "good", "--record"])
    assert res.exit_code == 0, res.output
    assert "not written" in res.output and "good.json" in res.output and "fix or delete" in res.output
    assert bad.read_text() == "{not json"  # left for a person to look at
    assert "reproduced" in res.output  # the measurement itself is still reported


def test_show_keeps_going_with_a_corrupt_record(toy_repro, monkeypatch, capsys):
    from zoo.cli import catalog_cmds

    assert CliRunner().invoke(cli(), ["repro", "toy", "--record"]).exit_code == 0
    _corrupt(toy_repro / "results", claim_id="bad")
    line = catalog_cmds._repro_line("toy")
    assert line.startswith("partial: analytic 1/2, 1 not run · accuracy 0/1, not run")
    assert "bad.json" in capsys.readouterr().err


def test_checks_and_inconclusive_decide_the_status():
    ok_value_bad_check = claim(id="conf", kind="conformance", reported=0, unit="max |diff|", tolerance=1e-10,
                               direction="lower",
                               measure=lambda ctx: Measurement(0.0, checks={"kept indices equal (vision)": False}))
    busy = claim(id="speed", kind="throughput", reported=2.0, unit="x", tolerance=0.1, direction="higher",
                 measure=lambda ctx: Measurement(1.2, inconclusive="machine busy (load 5 on 2 cores)"))
    spec = spec_with(ok_value_bad_check, busy)
    recs = {r.claim_id: r for r in zr.run_paper(spec, zr.RunOptions(write=False))}
    assert recs["conf"].status == "deviates" and recs["conf"].reason == "check failed: kept indices equal (vision)"
    assert recs["conf"].details["checks"] == {"kept indices equal (vision)": False}
    assert recs["speed"].status == "inconclusive" and "machine busy" in recs["speed"].reason


def test_a_non_finite_measurement_deviates_and_stays_a_valid_record(tmp_path):
    spec = spec_with(claim(id="inf", measure=lambda ctx: Measurement(float("inf"))))
    [rec] = zr.run_paper(spec, zr.RunOptions(results_dir=tmp_path))
    assert rec.status == "deviates" and rec.measured is None and rec.details["measured_not_finite"] == "inf"
    assert read_record(tmp_path / "toy" / "inf.json").status == "deviates"  # readable, not "corrupt"


def test_busy_verdict_uses_cpu_time_next_to_wall_time():
    from zoo.repro.harness.speed import busy_verdict

    c = claim(id="s", kind="throughput", reported=1.5, unit="x", tolerance=0.1, direction="higher")
    quiet = {"busy_machine": False}
    assert busy_verdict(c, quiet, wall_value=1.0, cpu_value=1.0) == ""  # quiet: wall time decides
    busy = {"busy_machine": True, "load_average_1m": [4.1, 3.9], "cpu_count": 2}
    assert busy_verdict(c, busy, wall_value=1.6, cpu_value=1.55) == ""  # both reproduce: the verdict stands
    why = busy_verdict(c, busy, wall_value=1.1, cpu_value=1.5)
    assert "machine busy (load average 4.1 -> 3.9 on 2 cores)" in why and "CPU-time value 1.5 (reproduced)" in why


def test_paired_timing_records_cpu_time_and_load():
    from zoo.repro.harness.speed import paired_timing

    t = paired_timing(lambda: sum(range(20000)), lambda: sum(range(2000)), repeats=3, warmup=0)
    assert len(t["baseline_cpu_all_s"]) == 3 and t["cpu_ratio"] > 0
    assert len(t["load_average_1m"]) == 2 and isinstance(t["busy_machine"], bool)


def test_import_zoo_cli_and_repro_stay_light():
    code = ("import sys, zoo.cli, zoo.repro, zoo.flops; "
            "heavy = [m for m in ('torch', 'transformers', 'timm') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
