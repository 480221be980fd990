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
    points = [p for p in theory.budget_points(data) if p.method == "tome" and p.adapter == "timm-vit"]
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


def test_text_encoder_schedules_cost_with_zoo_flops_encoder():
    """The BERT-base setup: a reducing budget costs less than the baseline (speedup > 1, equal to
    zoo.flops.encoder on the same schedule), the unreduced schedule exactly 1."""
    from zoo.flops.encoder import EncoderShape, schedule_from_counts, theoretical_speedup
    from zoo.site import theory

    data = _metadata()
    setup = data.reference_setups["hf-bert"]
    assert setup["kind"] == "encoder" and setup["shape"]["embed_dim"] == 768 and setup["shape"]["depth"] == 12
    points = {p.x: p for p in theory.budget_points(data) if p.method == "tome" and p.adapter == "hf-bert"}
    assert sorted(points) == [0.2, 0.4, 0.6, 0.8] and all(p.tokens_in == 512 for p in points.values())
    p = points[0.4]
    direct = theoretical_speedup(EncoderShape(**setup["shape"]), schedule_from_counts(512, list(p.tokens_after)))
    assert p.cost.speedup > 1 and p.cost.speedup == pytest.approx(direct, rel=1e-12)
    assert points[0.2].cost.speedup > points[0.8].cost.speedup
    flat = theory.cost(setup, {"text": {"input": 512, "after": [512] * 12}})
    assert flat.speedup == 1.0 and flat.baseline == pytest.approx(12 * (4 * 512 * 768 ** 2 + 2 * 512 ** 2 * 768
                                                                        + 2 * 512 * 768 * 3072) / 1e9)
    with pytest.raises(ValueError, match="12"):
        theory.cost(setup, {"text": {"input": 512, "after": [512] * 11}})


def test_unet_schedules_cost_the_recorded_queries_and_keys():
    """The SD 1.5 UNet setup: merging (ToMeSD) and key/value downsampling (ToDo, whose query counts are
    the baseline's) both cost less than the baseline; the unreduced step costs exactly the baseline."""
    from zoo.flops.diffusion import block_macs, unet_transformer_blocks
    from zoo.site import theory

    data = _metadata()
    setup = data.reference_setups["diffusers-unet"]
    blocks = unet_transformer_blocks(setup["shape"]["unet"], setup["shape"]["latent"])
    assert len(blocks) == 16 and blocks[0].tokens == 4096
    full = [b.tokens for b in blocks]
    flat = theory.cost(setup, {"denoiser": {"input": 4096, "after": full, "keys": full}})
    assert flat.speedup == 1.0
    assert flat.baseline == pytest.approx(sum(block_macs(b)["total"] for b in blocks) / 1e9)

    tomesd = {p.x: p for p in theory.budget_points(data) if p.method == "tomesd" and p.adapter == "diffusers-unet"}
    half = tomesd[0.5]
    assert half.tokens_after[0] == 2048 and half.cost.speedup > 1
    stage, _ = theory.default_schedule(data, "todo", "diffusers-unet")
    assert stage["after"] == full and stage["keys"][0] == 1024  # ToDo shortens keys/values only
    assert theory.cost(setup, {"denoiser": stage}).speedup > 1
    with pytest.raises(ValueError, match="16 transformer blocks"):
        theory.cost(setup, {"denoiser": {"input": 4096, "after": full[:-1]}})
    with pytest.raises(ValueError, match="latent"):
        theory.cost(setup, {"denoiser": {"input": 1024, "after": full}})


def _with_methods(data, papers):
    from zoo.site import metadata
    from zoo.site.data import method_doc

    doc = metadata.load(ROOT)
    data.papers = papers
    data.methods = {mid: method_doc(rec) for mid, rec in doc["methods"].items()}
    return data


def test_diffusion_method_and_compare_pages_show_the_unet_schedules():
    from site_fixtures import paper
    from zoo.site import pages_compare, pages_method

    data = _with_methods(_metadata(), [
        paper(mid, mid.upper(), family=("diffusion",), zoo={"status": "implemented", "method": mid})
        for mid in ("tomesd", "todo")])
    text = pages_method.schedule_section("todo", None, data)
    assert "SD 1\\.5 UNet" in text and "GMACs" in text
    assert "| defaults | 4096 ×3 → 1024 ×2" in text and "keys/values: 1024 ×4 → 256 ×2" in text
    assert "<code>keep\\_ratio=0\\.25</code> | 4096 ×3" in text and "not accepted: <code>keep\\_ratio=0\\.5: ValueError" in text
    files: dict[str, str] = {}
    section = pages_compare.budget_section("compare/diffusion.md", data, "diffusion", ["tomesd", "todo", "random"],
                                           files)
    assert "### On the SD 1\\.5 UNet" in section
    assert {"assets/plots/speedup-diffusion-diffusers-unet-light.svg",
            "assets/plots/tokens-diffusion-diffusers-unet-dark.svg"} <= set(files)


def test_schedule_labels_from_the_data_file_are_escaped():
    """Setup labels and recorded errors reach the pages as text: hostile ones are escaped in the method
    and compare pages."""
    from site_fixtures import paper
    from zoo.site import pages_compare, pages_method

    data = _with_methods(_metadata(), [paper("tomesd", "T", family=("diffusion",),
                                             zoo={"status": "implemented", "method": "tomesd"})])
    hostile = "<script>alert(1)</script> *x* | [l](javascript:alert(2))"
    data.reference_setups = {k: dict(v) for k, v in data.reference_setups.items()}
    data.reference_setups["diffusers-unet"]["label"] = hostile
    entry = json.loads(json.dumps(data.schedules["tomesd"]["diffusers-unet"]))
    entry["budgets"][0] = {"x": 0.75, "error": hostile}
    data.schedules = {**data.schedules, "tomesd": {"diffusers-unet": entry}}
    text = pages_method.schedule_section("tomesd", None, data)
    files: dict[str, str] = {}
    section = pages_compare.budget_section("compare/diffusion.md", data, "diffusion", ["tomesd"], files)
    for out in (text, section):
        assert "<script>" not in out and "](javascript:" not in out and "&lt;script&gt;" in out
    assert "not accepted: <code>&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text


def test_compare_page_starts_with_the_setup_of_its_papers_modality():
    from site_fixtures import paper
    from zoo.site import pages_compare

    data = SiteData(papers=[paper("power-bert", "P", modality=("text",), family=("encoder-lm",),
                                  zoo={"status": "implemented", "method": "power-bert"}),
                            paper("tome", "T", modality=("image",), zoo={"status": "implemented", "method": "tome"})])
    data.methods = {"power-bert": _method("power-bert", ["timm-vit", "hf-bert", "hf-whisper-encoder"]),
                    "tome": _method("tome", ["timm-vit", "hf-bert"])}
    data.reference_setups = {"timm-vit": {"modality": "image"}, "hf-bert": {"modality": "text"},
                             "hf-whisper-encoder": {"modality": "audio"}, "llava": {"modality": "image"}}
    assert pages_compare._setups_for(data, ["power-bert"]) == ["hf-bert", "hf-whisper-encoder", "timm-vit"]
    assert pages_compare._setups_for(data, ["tome"]) == ["timm-vit", "hf-bert"]
