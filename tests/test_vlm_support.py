"""The method x decoder-model support matrix: complete, derived from declared signals, and what zoo.apply does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zoo.families.decoders import DECODER_ADAPTERS
from zoo.families.decoders.support import families_providing, support_matrix
from zoo.papers import REGISTRY


def _cells():
    return {(s.method, s.model_class): s for s in support_matrix()}


def test_matrix_covers_every_method_and_decoder_model_class():
    from zoo.families import adapter_class

    classes = [c for name in DECODER_ADAPTERS for c in adapter_class(name).model_classes]
    assert len(classes) == len(set(classes)) == 10
    cells = _cells()
    assert set(cells) == {(m, c) for m in REGISTRY for c in classes}
    for s in cells.values():
        assert s.supported == (s.reason == "")


def test_matrix_reasons_name_the_missing_signal():
    cells = _cells()
    for cls in ("LlavaForConditionalGeneration", "LlavaNextForConditionalGeneration",
                "LlavaOnevisionForConditionalGeneration", "LlavaNextVideoForConditionalGeneration",
                "Qwen2VLForConditionalGeneration", "Qwen2_5_VLForConditionalGeneration"):
        for m in ("fastv", "pyramiddrop", "sparsevlm", "random"):
            assert cells[(m, cls)].supported, (m, cls)
    assert cells[("visionzip", "LlavaForConditionalGeneration")].supported
    assert cells[("fastervlm", "LlavaNextForConditionalGeneration")].supported  # per anyres tile
    qwen = cells[("visionzip", "Qwen2_5_VLForConditionalGeneration")]
    assert not qwen.supported and "[CLS]" in qwen.reason and "visionzip needs" in qwen.reason
    assert "SigLIP" in cells[("fastervlm", "LlavaOnevisionForConditionalGeneration")].reason
    text = cells[("fastv", "LlamaForCausalLM")]
    assert not text.supported and "text-only" in text.reason
    assert cells[("random", "MistralForCausalLM")].supported
    assert "timm-vit" in cells[("tome", "Qwen2VLForConditionalGeneration")].reason


def test_families_follow_the_declared_signals():
    assert families_providing(("vision-cls",)) == ("llava", "llava-next")
    assert "text-lm" not in families_providing(("visual-tokens",))
    assert families_providing(("media-tokens",))[-1] == "qwen2-audio"
    assert "qwen2-audio" not in families_providing(("visual-tokens",)) + families_providing(("item-grid",))
    with pytest.raises(KeyError, match="unknown signal"):
        families_providing(("no-such-signal",))


def test_decoder_signals_import_no_torch():
    """Adapters and the support logic are light (the decoder methods' modules too); ViT methods may import torch."""
    code = ("import sys; from zoo.families.decoders.support import missing_reason, families_providing; "
            "from zoo.interface import method_class; "
            "[method_class(m).families for m in ('fastv', 'pyramiddrop', 'sparsevlm', 'visionzip', 'fastervlm', "
            "'llava-prumerge')]; "
            "[missing_reason('visionzip', ('vision-cls',), a) for a in ('qwen2.5-vl', 'text-lm', 'llava')]; "
            "print(any(m in sys.modules for m in ('torch', 'transformers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_apply_agrees_with_the_matrix_and_says_why(tmp_path):
    pytest.importorskip("transformers")
    import zoo
    from decoder_fixtures import build, load

    model = load("qwen2.5-vl", build("qwen2.5-vl", tmp_path / "q"))
    with pytest.raises(TypeError, match=r"visionzip needs .*\[CLS\]"):
        zoo.apply(model, "visionzip")
    zoo.apply(model, "fastv", k=2).remove()


def test_every_decoder_adapter_declares_its_transformers_range():
    import importlib.metadata

    from zoo.families import adapter_class

    installed = importlib.metadata.version("transformers")
    for name in DECODER_ADAPTERS:
        cls = adapter_class(name)
        assert cls.supported_transformers.startswith(">=5") and installed in cls.tested_transformers, name
        assert cls.model_classes and cls.model_types, name
