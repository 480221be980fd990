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


def test_cli_table_json_strict_and_api(toy_repro, tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli(), ["repro", "toy"])
    assert res.exit_code == 0, res.output
    assert "reproduced" in res.output and "deviates" in res.output and "needs cuda" in res.output
    res = runner.invoke(cli(), ["repro", "toy", "--strict"])
    assert res.exit_code == 1
    res = runner.invoke(cli(), ["repro", "toy", "--kind", "analytic", "--json", "--no-write"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert {d["claim_id"]: d["status"] for d in data} == {"good": "reproduced", "bad": "deviates"}
    # the API reads what the first run wrote
    assert {r.claim_id: r.status for r in zr.load_results("toy")} == {"good": "reproduced", "bad": "deviates", "gpu": "skipped"}
    assert zr.paper_status("toy") == "deviates"
    res = runner.invoke(cli(), ["repro", "--list"])
    assert res.exit_code == 0 and "toy" in res.output and "deviates" in res.output
    res = runner.invoke(cli(), ["repro", "toy", "--kind", "speed"])
    assert res.exit_code != 0 and "unknown claim kind 'speed'" in res.output
    res = runner.invoke(cli(), ["repro", "nope"])
    assert res.exit_code == 2 and "no repro script for 'nope'" in res.output
    res = runner.invoke(cli(), ["repro", "toy", "--data-dir", "imagenet"])
    assert res.exit_code != 0 and "NAME=PATH" in res.output


def test_import_zoo_cli_and_repro_stay_light():
    code = ("import sys, zoo.cli, zoo.repro, zoo.flops; "
            "heavy = [m for m in ('torch', 'transformers', 'timm') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
