"""Unit tests of the site's page builders: status per kind, theoretical cost of recorded
schedules, comparison-page grouping, benchmark token columns, build options."""

from __future__ import annotations

import subprocess
import json
from pathlib import Path

import pytest

from zoo.site.data import MethodDoc, PaperRepro, SiteData

ROOT = Path(__file__).resolve().parents[1]


def _kind(total, reproduced=0, skipped=None, deviates=0, labels=(), word=None):
    skipped = total - reproduced - deviates if skipped is None else skipped
    counts = {"reproduced": reproduced, "deviates": deviates, "failed": 0, "inconclusive": 0, "skipped": skipped}
    return {"kind": "x", "total": total, "counts": counts, "labels": list(labels), "word": word or "partial"}


def test_status_never_says_reproduced_without_a_reproduced_accuracy_claim():
    from zoo.site.status import kind_badges, kind_message, shown_word

    assert shown_word("reproduced", {"analytic": _kind(3, 3), "speed": _kind(2, 2)}) == "reproduced, no accuracy claim"
    assert shown_word("reproduced", {"analytic": _kind(1, 1), "accuracy": _kind(2, 2)}) == "reproduced"
    assert shown_word("partial", {"accuracy": _kind(2, 0)}) == "partial"
    assert kind_message(_kind(5, 0)) == "0/5, not run"
    assert kind_message(_kind(2, 2, labels=["cpu, random weights"])) == "2/2 · cpu, random weights"
    assert kind_message(_kind(3, 1, skipped=1, deviates=1)) == "1/3, 1 deviates, 1 not run"
    kinds = {"accuracy": _kind(1, 0, word="not run"), "analytic": _kind(1, 1, word="reproduced")}
    badges = kind_badges(kinds)
    assert [b.kind for b in badges] == ["analytic", "accuracy"]  # fixed order
    assert badges[0].colour != badges[1].colour and badges[1].filename == "accuracy-0-1-not-run-not-run.svg"


def test_paper_word_shown_on_a_method_page_comes_from_the_kinds():
    from zoo.site.pages_method import repro_section

    data = SiteData(papers=[])
    data.repro = {"p": PaperRepro("reproduced", [], kinds={"analytic": _kind(2, 2, word="reproduced")})}
    text = repro_section("methods/p.md", "p", data)
    assert "repro: reproduced, no accuracy claim" in text and "analytic: 2/2" in text


def _metadata():
    from zoo.site import metadata

    doc = metadata.load(ROOT)
    assert doc is not None
    data = SiteData(papers=[])
    data.reference_setups, data.schedules = doc["reference_setups"], doc["schedules"]
    return data


def test_recorded_schedules_cost_the_same_as_zoo_flops_directly():
    from zoo.flops import DecoderConfig, fastv_schedule, flops_ratio
    from zoo.site import theory

    data = _metadata()
    setup = data.reference_setups["llava"]
    stage, cost = theory.default_schedule(data, "fastv", "llava")
    cfg = DecoderConfig(**setup["shape"]["decoder"])
    n_other = setup["shape"]["n_system"] + setup["shape"]["n_question"]
    direct = flops_ratio(fastv_schedule(cfg.num_layers, 576, n_other, k=2, r=0.5),
                         fastv_schedule(cfg.num_layers, 576, n_other, k=2, r=0.0), cfg, "tokzoo")
    assert cost.method / cost.baseline == pytest.approx(direct, rel=1e-12)
    # no reduction: speedup exactly 1
    flat = {"llm": {"input": stage["input"], "after": [stage["input"]] * cfg.num_layers}}
    assert theory.cost(setup, flat).speedup == pytest.approx(1.0)
    vit = theory.cost(data.reference_setups["timm-vit"], {"vit": {"input": 197, "after": [197] * 12}})
    assert vit.speedup == pytest.approx(1.0) and vit.baseline == pytest.approx(4.6, abs=0.05)  # DeiT-S GMACs
    points = [p for p in theory.budget_points(data) if p.method == "tome"]
    assert [p.x for p in points] == [0.8, 0.6, 0.4, 0.2]
    assert all(a.cost.speedup < b.cost.speedup for a, b in zip(points, points[1:]))  # less kept, cheaper


def _method(mid, families):
    return MethodDoc(id=mid, arxiv="", families=tuple(families), placement="backbone", params={},
                     paper_notation={}, summary="", doc="", module="m", class_name="C")


def test_methods_join_the_first_family_of_their_paper_and_controls_follow_adapters():
    from zoo.site.pages_compare import family_label, family_methods

    data = SiteData(papers=[
        {"id": "a", "title": "A", "family": ["vit", "diffusion"], "zoo": {"status": "implemented", "method": "a"}},
        {"id": "b", "title": "B", "family": ["video-llm", "vlm"], "zoo": {"status": "implemented", "method": "b"}},
    ])
    data.methods = {"a": _method("a", ["timm-vit"]), "b": _method("b", ["llava"]),
                    "random": _method("random", ["timm-vit", "llava"]), "other": _method("other", ["x"])}
    assert family_methods(data) == {"vit": ["a", "random"], "video-llm": ["b", "random"]}
    assert family_label("vlm") == "Vision-language models with an LLM decoder on images"


def test_benchmark_tokens_column_reads_vit_and_llava_records():
    from zoo.site.bench_view import measured_label, tokens_in_out

    assert tokens_in_out({"input": 197, "after_block": [181, 11]}) == "197 → 11"
    llava = {"llm_input": 129, "llm_entering_layer": [129] * 12, "baseline_llm_input": 641, "vision": [64]}
    assert tokens_in_out(llava) == "LLM 641 → 129 (vision tower output 64)"
    assert tokens_in_out({"llm_input": 641, "llm_entering_layer": [641, 353], "vision": None}) == "LLM 641 → 353"
    rec = {"setting": {"device": "cpu", "weights": "random (timm pretrained=False)", "dtype": "bfloat16", "threads": 1}}
    assert measured_label(rec) == "cpu, random weights, bfloat16, 1 thread"


def test_papers_per_year_counts_each_paper_once():
    from zoo.site.plots import year_groups

    papers = [{"year": 2024, "modality": ["image", "video"]}, {"year": 2024, "modality": ["image"]},
              {"year": 2023, "modality": ["text"]}]
    groups = year_groups(papers)
    assert sum(c[2024] for c in groups.values()) == 2 and groups["several modalities"][2024] == 1


def test_find_root_walks_up_and_refuses_outside_a_checkout(tmp_path):
    from zoo.site.build import find_root

    assert find_root(ROOT / "zoo" / "site") == ROOT
    with pytest.raises(FileNotFoundError, match="not inside a tokzoo checkout"):
        find_root(tmp_path)


def test_repository_address_comes_from_the_origin_remote(tmp_path):
    from zoo.site.build import git_repo_url

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for remote, expected in (("git@github.com:owner/tokzoo.git", "https://github.com/owner/tokzoo"),
                             ("https://github.com/owner/tokzoo.git", "https://github.com/owner/tokzoo"),
                             ("https://token@github.com/owner/tokzoo", "https://github.com/owner/tokzoo"),
                             ("/srv/git/tokzoo", "")):
        subprocess.run(["git", "-C", str(tmp_path), "remote", "remove", "origin"], capture_output=True)
        subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
        assert git_repo_url(tmp_path) == expected, remote


def test_config_carries_site_and_repository_addresses_and_the_theme_overrides(tmp_path):
    import yaml

    from zoo.site.build import write_config

    path = write_config(ROOT, tmp_path, ["index.md"], site_url="https://o.github.io/tokzoo/",
                        repo_url="https://github.com/o/tokzoo")
    cfg = yaml.safe_load(path.read_text())
    assert cfg["site_url"] == "https://o.github.io/tokzoo/" and cfg["repo_url"] == "https://github.com/o/tokzoo"
    assert cfg["repo_name"] == "o/tokzoo" and cfg["edit_uri"] == ""
    assert Path(cfg["theme"]["custom_dir"]) == ROOT / "site" / "overrides"
    assert "navigation.instant" in cfg["theme"]["features"]


def test_cli_refuses_an_address_that_is_not_http(tmp_path):
    from typer.testing import CliRunner

    from zoo.cli import app

    result = CliRunner().invoke(app, ["site", "build", "--root", str(ROOT), "--out", str(tmp_path / "o"),
                                      "--site-url", "javascript:alert(1)"])
    assert result.exit_code == 1 and "is not an http(s) URL" in result.output
    assert not (tmp_path / "o").exists()


def test_plot_text_from_data_is_literal_and_both_schemes_are_written():
    from zoo.site import plots

    name = "a $\\frac{a}{$ b"  # unbalanced mathematics if read as mathtext
    svg = plots.speedup_vs_budget({name: [(0.5, 1.5), (0.25, 2.0)]}, x_label="$x$", title="t $y$", order=[name])
    assert svg and svg.startswith("<?xml")  # mathtext would have raised on the unbalanced label
    files, paths = plots.themed("p", lambda theme: svg)
    light, dark = (files[p] for p in paths)
    assert paths == ["assets/plots/p-light.svg", "assets/plots/p-dark.svg"]
    assert "#212121" in light and "#212121" not in dark and "#e0e0e0" in dark
    assert plots.themed("q", lambda theme: None) == ({}, [])


def test_real_weight_fidelity_record_is_shown_escaped():
    """The MiniLM fidelity record (kind tokzoo-fidelity) is a table on the method and compare
    pages; its strings are escaped like every other record's."""
    from zoo.site.fidelity_view import fidelity_markdown

    rec = {"kind": "tokzoo-fidelity", "model": "<script>alert(1)</script>", "dataset": "d", "_file": "f.json",
           "rows": [{"label": "tome *x*", "method": "tome", "budget_keep_ratio": 0.5, "cosine_mean": 0.9,
                     "cosine_min": 0.5, "spearman_vs_unreduced": 0.8, "top1_same_as_unreduced": 0.75,
                     "recall_at_1": 1.0, "macs_ratio": 0.7, "tokens_left": 0.5},
                    {"label": "other", "method": "evit"},
                    {"label": "adaptive", "method": "alpine", "budget_keep_ratio": None, "budget": {"alpha": 1.5}}]}
    text = fidelity_markdown([rec, {"kind": "tokzoo-bench"}], ["tome"])
    assert "<script>" not in text and "0\\.900" in text and "other" not in text
    assert "| adaptive | alpha 1\\.5 |" in fidelity_markdown([rec], ["alpine"])  # an adaptive row shows its budget
    assert fidelity_markdown([rec], ["ppt"]) == ""
    shipped = json.loads((ROOT / "benchmarks" / "results" / "minilm-fidelity.json").read_text(encoding="utf-8"))
    assert "| tome | 0\\.50 | 0\\.922 |" in fidelity_markdown([shipped], ["tome"])
