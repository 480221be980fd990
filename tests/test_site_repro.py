"""The method page's reproduction table comes from the repro script's claims and the
committed records: reported vs measured, hardware, date, status; unmeasured claims say
"not run" with what they need, and nothing is filled in."""

from __future__ import annotations

import html
import re
import textwrap

import markdown

from zoo.repro import Record, save_record
from zoo.site.data import SiteData
from zoo.site.pages_method import repro_section
from zoo.site.repro_view import load_repro

SCRIPT = textwrap.dedent('''
    from zoo.repro import Claim, Measurement, PaperSpec, Source

    def _never(ctx):
        raise AssertionError("the site must not run measurements")

    SPEC = PaperSpec(
        paper_id="toy",
        title="Toy",
        arxiv="",
        claims=[
            Claim(id="flops-cut", kind="analytic", description="FLOPs reduction", reported=45, unit="%",
                  tolerance=0.5, setting={"model": "toy-13b", "K": 2}, source=Source("arXiv:0000.00000v1", "Table 1"),
                  measure=_never),
            Claim(id="acc", kind="accuracy", description="GQA accuracy", reported=61.2, unit="%",
                  setting={"benchmark": "GQA"}, source=Source("arXiv:0000.00000v1", "Table 2"),
                  measure=_never, needs=("cuda", "dataset:gqa")),
        ],
    )
''')


def _repro_root(tmp_path):
    (tmp_path / "repro").mkdir()
    (tmp_path / "repro" / "toy.py").write_text(SCRIPT)
    save_record(Record(paper_id="toy", claim_id="flops-cut", kind="analytic", status="reproduced", reported=45,
                       unit="%", measured=45.29, tolerance=0.5,
                       hardware={"cpu": "AMD EPYC", "cpu_count": 2, "system": "Linux"},
                       details={"convention": "fastv", "flops_baseline": 6.0e12, "flops_method": 3.3e12,
                                "image_tokens_per_layer": [576, 576, 288, 288, 288],
                                "non_image_tokens_reproducing": [34, 47]},
                       date="2026-11-25T15:16:29+00:00"), tmp_path / "repro" / "results")
    return tmp_path


def test_claim_rows_come_from_the_spec_and_records(tmp_path):
    root = _repro_root(tmp_path)
    notes: list[str] = []
    data = SiteData(papers=[{"id": "toy", "title": "Toy", "zoo": {"status": "none"}}])
    repro = load_repro(root, data, notes)
    entry = repro["toy"]
    assert entry.status == "partial"  # derived by zoo.repro: one reproduced, one not measured
    measured, missing = entry.claims
    assert (measured.claim_id, measured.status, measured.measured) == ("flops-cut", "reproduced", "45.29%")
    assert measured.reported == "45%" and measured.tolerance == "± 0.5%"
    assert missing.tolerance == "exact" and measured.group == "analytic" and missing.group == "accuracy"
    assert entry.kinds["analytic"]["counts"]["reproduced"] == 1 and entry.kinds["accuracy"]["word"] == "not run"
    assert measured.hardware == "AMD EPYC (2 CPUs)" and measured.date == "2026-11-25"
    assert (missing.claim_id, missing.status, missing.measured) == ("acc", "not run", "")
    assert missing.detail == "needs cuda, dataset:gqa"
    assert notes == []


def test_repro_table_renders_reported_measured_hardware_date_status(tmp_path):
    root = _repro_root(tmp_path)
    data = SiteData(papers=[{"id": "toy", "title": "Toy", "zoo": {"status": "none"}}])
    data.repro = load_repro(root, data, [])
    rendered = markdown.markdown(repro_section("methods/toy.md", "toy", data), extensions=["tables", "md_in_html"])
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.S)
    cells = [[html.unescape(re.sub(r"<[^>]+>", " ", c)).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
             for r in rows[1:]]
    assert len(cells) == 2
    flops = cells[0]
    assert flops[2] == ["45%"] and flops[3] == ["±", "0.5%"] and flops[4] == ["45.29%"]
    assert flops[5] == ["AMD", "EPYC", "(2", "CPUs)"] and flops[6] == ["2026-11-25"]
    assert "model: toy-13b; K: 2" in " ".join(flops[0]) and "Source: arXiv:0000.00000v1, Table 1" in " ".join(flops[0])
    assert 'alt="repro: reproduced"' in rows[1]
    assert cells[1][4] == ["–"] and 'alt="repro: not run"' in rows[2]
    head = rendered.split("<table>")[0]
    assert 'alt="repro: partial"' in head
    # status per kind with counts: the analytic claim reproduced, the accuracy claim not run
    assert 'alt="analytic: 1/1"' in head and 'alt="accuracy: 0/1, not run"' in head


def test_schedule_section_shows_recorded_per_layer_tokens_and_flops(tmp_path):
    from zoo.site.pages_method import schedule_section

    root = _repro_root(tmp_path)
    data = SiteData(papers=[{"id": "toy", "title": "Toy", "zoo": {"status": "none"}}])
    data.repro = load_repro(root, data, [])
    text = html.unescape(re.sub(r"<[^>]+>", "", markdown.markdown(schedule_section("toy", "toy", data),
                                                                   extensions=["tables", "md_in_html"])))
    assert "image_tokens_per_layer: 576 ×2 → 288 ×3" in text
    assert "FLOPs 6e+12 → 3.3e+12 (convention: fastv)" in text
    assert "reproducing" not in text  # a [lo, hi] range is not a schedule
    assert "GQA" not in text  # only analytic claims belong to the schedule section


def test_without_a_script_the_page_says_not_run():
    data = SiteData(papers=[])
    assert "not run" in repro_section("methods/x.md", "x", data)


def test_benchmark_records_render_their_own_numbers():
    from zoo.site.bench_view import benchmark_markdown, schedule_lines

    record = {
        "kind": "tokzoo-bench", "family": "timm-vit", "method": "tome", "params": {"r": 16, "keep_ratio": None},
        "setting": {"model": "vit_base_patch16_224", "dtype": "bfloat16", "batch_size": 16, "threads": 2},
        "baseline": {"median_s": 2.0, "throughput": 8.0},
        "reduced": {"median_s": 1.07, "throughput": 15.0}, "speedup": 1.9, "speedup_pairs_median": 1.87,
        "tokens": {"input": 197, "after_block": [181, 165, 149]},
        "flops": {"convention": "MACs per image", "baseline_gmacs": 17.6, "method_gmacs": 8.8,
                  "theoretical_speedup": 2.0},
        "hardware": {"cpu": "AMD EPYC", "threads": 2}, "date": "2026-11-25T10:00:00+00:00", "_file": "vit-tome.json",
    }
    other = {**record, "method": "evit", "_file": "vit-evit.json"}
    text = benchmark_markdown("tome", [record, other])
    rendered = html.unescape(re.sub(r"<[^>]+>", "", markdown.markdown(text, extensions=["tables", "md_in_html"])))
    assert "r=16" in rendered and "keep_ratio" not in rendered
    assert "197 → 149" in rendered and "17.6 → 8.8" in rendered and "1.87×" in rendered and "8 → 15" in rendered
    assert "2026-11-25" in rendered and "vit-tome.json" in rendered and "vit-evit.json" not in rendered
    assert schedule_lines("tome", [record]) == ["vit\\_base\\_patch16\\_224 (r=16): 197 → 181 → 165 → 149"]
    one_thread = {**record, "setting": {**record["setting"], "threads": 1}, "_file": "vit-tome-t1.json"}
    assert schedule_lines("tome", [record, one_thread]) == schedule_lines("tome", [record])  # same schedule once
    longer = {**one_thread, "tokens": {"input": 197, "after_block": [181, 165]}}
    assert len(schedule_lines("tome", [record, longer])) == 2
    assert "No benchmark results" in benchmark_markdown("ppt", [record])


def test_accuracy_vs_flops_plots_only_measured_accuracy_with_recorded_flops():
    from zoo.site.data import ClaimRow, PaperRepro
    from zoo.site.pages_stats import accuracy_points, stats_page

    def row(cid, status, value, details):
        return ClaimRow(claim_id=cid, kind="accuracy", description="", reported="61%", measured=f"{value}%",
                        status=status, source="", measured_value=value, unit="%", details=details)

    data = SiteData(papers=[{"id": "toy", "title": "Toy", "year": 2024, "modality": ["image"],
                             "technique": ["pruning"], "family": ["vlm"], "zoo": {"status": "none"}}])
    data.repro = {"toy": PaperRepro("partial", [
        row("gqa", "reproduced", 60.8, {"flops": {"method_gmacs": 8.8}}),
        row("mme", "reproduced", 1500.0, {}),                       # no FLOPs recorded: not plotted
        row("pope", "skipped", 85.0, {"method_gmacs": 8.8}),        # not measured: not plotted
    ])}
    assert accuracy_points(data) == [{"method": "toy", "accuracy": 60.8, "flops": 8.8,
                                      "accuracy_unit": "accuracy (%)", "flops_unit": "method_gmacs"}]
    text, files = stats_page(data)
    assert {"assets/plots/accuracy-vs-flops-light.svg", "assets/plots/accuracy-vs-flops-dark.svg"} <= set(files)
    assert "accuracy-vs-flops-light.svg#only-light" in text and "accuracy-vs-flops-dark.svg#only-dark" in text
    data.repro["toy"].claims.pop(0)
    text, files = stats_page(data)
    # no measured point: no plot and no empty section
    assert not any("accuracy-vs-flops" in f for f in files) and "Measured accuracy" not in text
