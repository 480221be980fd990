"""The uniform support matrix (``zoo.support``): every method x every adapter, cells taken from the
runtimes' own answers, and its command-line views (``tokzoo methods --support``, ``tokzoo methods ID``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoo.cli import app
from zoo.families import ADAPTERS
from zoo.papers import REGISTRY
from zoo.support import STATUSES, adapters_by_runtime, runtime_of, support_matrix

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def matrix():
    return {(c.method, c.adapter): c for c in support_matrix()}


def run(*args, width=80):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(width)})


def test_every_method_on_every_adapter_once_with_a_known_status(matrix):
    cells = support_matrix()
    assert len(cells) == len(REGISTRY) * len(ADAPTERS) == len(matrix)
    assert set(matrix) == {(m, a) for m in REGISTRY for a in ADAPTERS}
    assert {c.status for c in cells} <= set(STATUSES)
    assert all(c.reason for c in cells if c.status != "yes")  # a "no" or "depends" always says why
    assert all(c.runtime == runtime_of(c.adapter) for c in cells)
    assert sorted(a for names in adapters_by_runtime().values() for a in names) == sorted(ADAPTERS)


def test_cells_are_the_runtimes_answers(matrix):
    from zoo.families.decoders.support import support_matrix as decoder_matrix
    from zoo.families.diffusion.support import support as diffusion_support
    from zoo.families.encoders import ENCODER_FAMILIES
    from zoo.families.encoders.support import support as encoder_support
    from zoo.interface import method_class

    for (m, a), cell in matrix.items():
        families = tuple(method_class(m).families)
        assert (a in families) or cell.status == "no", (m, a)  # never more than zoo.apply accepts
        if cell.runtime == "encoder" and set(families) & set(ENCODER_FAMILIES):
            s = encoder_support(m, a)
            assert (cell.status, cell.reason) == (s.status, s.reason), (m, a)
        if cell.runtime == "diffusion" and a in families:
            assert cell.ok == diffusion_support(m, a).supported, (m, a)
    for row in decoder_matrix():
        cell = matrix[(row.method, row.adapter)]
        assert cell.ok == row.supported and row.model_class in cell.model_classes
        if not row.supported and set(method_class(row.method).families) & set(adapters_by_runtime()["decoder"]):
            assert cell.reason == row.reason


def test_named_cells(matrix):
    evit = matrix[("evit", "hf-siglip-vision")]
    assert evit.status == "no" and "no class token" in evit.reason
    assert matrix[("evit", "timm-vit")].status == "depends" and "class token" in matrix[("evit", "timm-vit")].reason
    assert matrix[("fastv", "qwen2.5-vl")].status == "yes"
    assert matrix[("fastv", "qwen2.5-vl")].model_classes == ("Qwen2_5_VLForConditionalGeneration",)
    fastvid = matrix[("fastvid", "qwen2.5-vl")]
    assert fastvid.status == "no" and "per-patch attention" in fastvid.reason
    assert matrix[("tomesd", "diffusers-unet")].status == "yes"
    assert matrix[("tomesd", "diffusers-unet")].model_classes == ("UNet2DConditionModel",)
    tomesd = matrix[("tomesd", "llava")]
    assert tomesd.status == "no" and tomesd.reason.startswith("a diffusion method; runs on: diffusers-unet")
    assert matrix[("fastvid", "hf-bert")].reason.startswith("a decoder-LM method; runs on: llava-onevision")
    assert matrix[("tome", "diffusers-dit")].reason.startswith("an encoder method; runs on: timm-vit")
    assert all(matrix[("random", a)].ok for a in ADAPTERS)  # the control runs everywhere
    # speech LLM: media-span methods run on the audio tokens, vision-only ones say why not
    assert all(matrix[(m, "qwen2-audio")].ok for m in ("fastv", "pyramiddrop", "divprune", "dart", "sparsevlm"))
    assert matrix[("fastv", "qwen2-audio")].model_classes == ("Qwen2AudioForConditionalGeneration",)
    assert "no vision tower" in matrix[("fastervlm", "qwen2-audio")].reason
    assert "1-D time sequence" in matrix[("pooling", "qwen2-audio")].reason
    assert "no image or video tokens" in matrix[("dycoke", "qwen2-audio")].reason
    fastadasp = {a for a in ADAPTERS if matrix[("fastadasp", a)].ok}
    assert fastadasp == {"qwen2-audio"}  # merges neighbouring audio frames: speech LLMs only
    assert "audio clips" in matrix[("fastadasp", "llava")].reason
    assert matrix[("fastadasp", "hf-whisper-encoder")].reason.startswith("a decoder-LM method")


def test_diffusion_adapters_name_the_classes_they_detect():
    pytest.importorskip("diffusers")
    from zoo.families import adapter_class
    from zoo.families.diffusion import models

    classes = models._classes()
    for name in adapters_by_runtime()["diffusion"]:
        cls = adapter_class(name)
        detected = {c.__name__ for kind in cls.kinds if kind not in models.UNSUPPORTED for c in classes[kind]}
        assert set(cls.model_classes) == detected, name


def test_unknown_names_are_refused_naming_the_known_ones():
    with pytest.raises(KeyError, match="unknown method 'nope'; registered: tome"):
        support_matrix(["nope"])
    with pytest.raises(KeyError, match="unknown adapter 'nope'; known: timm-vit"):
        support_matrix(adapters=["nope"])


def test_zoo_exposes_it_and_importing_stays_light():
    import zoo
    import zoo.support

    assert zoo.support_matrix is zoo.support.support_matrix
    code = ("import sys, zoo.support, zoo.cli, zoo.cli.support_view; "
            "print(sorted(m for m in ('torch', 'transformers', 'timm', 'diffusers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_cli_grid_fits_80_columns_and_groups_adapters_by_runtime():
    result = run("methods", "--support")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    heads = [line for line in lines if line.startswith("method ")]
    assert [h.split()[1:] for h in heads] == [["timm", "vit", "clip", "siglip", "bert", "ast", "whispr"],
                                              ["llava", "next", "ov", "nxtvid", "qw2", "qw2.5", "textlm", "qw2a"],
                                              ["unet", "dit", "mmdit"]]
    row = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("evit ")}
    assert row["evit"] == ["dep", "yes", "yes", "no", "yes", "yes", "no"]
    assert "legend:" in result.output and "ov=llava-onevision" in result.output


def test_cli_json_is_typed_cells_with_reasons():
    result = run("methods", "--support", "--family", "decoder", "--json")
    assert result.exit_code == 0, result.output
    cells = json.loads(result.output)
    assert {c["adapter"] for c in cells} == set(adapters_by_runtime()["decoder"])
    assert len(cells) == len(REGISTRY) * len(adapters_by_runtime()["decoder"])
    for c in cells:
        assert set(c) == {"method", "adapter", "runtime", "model_classes", "serves", "status", "reason"}
        assert isinstance(c["model_classes"], list) and c["status"] in STATUSES and isinstance(c["reason"], str)
    one = json.loads(run("methods", "fastvid", "--support", "--json").output)
    assert [c["adapter"] for c in one] == list(ADAPTERS)
    row = json.loads(run("methods", "fastvid", "--json").output)
    assert row["id"] == "fastvid" and len(row["support"]) == len(ADAPTERS)


def test_cli_one_method_lists_every_adapter_with_the_reason():
    result = run("methods", "fastvid")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"fastvid: runs on 2 of {len(ADAPTERS)} adapters" in out
    for name in ADAPTERS:
        assert name in out, name
    assert "per-patch attention" in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 80
    only = run("methods", "evit", "--support").output
    assert "parameters (defaults)" not in only and "hf-siglip-vision models have no class token" in " ".join(only.split())


def test_cli_one_adapter_lists_every_method():
    result = run("methods", "--support", "--family", "llava")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("llava: ")
    assert max(len(line) for line in result.output.splitlines()) <= 80
    flat = " ".join(result.output.split())
    assert all(m in flat for m in REGISTRY)
    assert "dycoke reduces video tokens; llava models take no videos" in flat


def test_cli_errors_name_what_is_allowed():
    bad = run("methods", "nope")
    assert bad.exit_code == 2 and "unknown method 'nope'; registered: tome" in bad.output
    fam = run("methods", "--support", "--family", "nope", width=200)
    assert fam.exit_code == 2
    flat = " ".join(fam.output.replace("│", " ").split())
    assert "adapters: timm-vit" in flat and "runtimes: encoder, decoder, diffusion" in flat
    both = run("methods", "tome", "--family", "vit", width=200)
    assert both.exit_code == 2 and "--family" in both.output
