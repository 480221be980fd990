"""The decoder bench's LLaVA-NeXT, LLaVA-NeXT-Video, Qwen2-VL and text-LM configurations.

Each configuration builds (at full size on the meta device: no memory, no time), its prompt
holds exactly the visual tokens the model's own forward places (checked on narrow towers
with the real image size, patch size and grid, so the token count is the real one), and a
bench call on a shrunk version writes a record with the adapter's family.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from zoo.bench import BENCHES, bench_function, family_for  # noqa: E402
from zoo.bench import vlm  # noqa: E402

NEW = {"llava-next-160m": "llava-next", "llava-next-video-160m": "llava-next-video",
       "qwen2-vl-7b-vision": "qwen2-vl", "llama-text-0.1b": "text-lm"}

#: narrow, shallow stand-ins that keep everything deciding the token count
NARROW_CLIP_336 = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                       image_size=336, patch_size=14)
TINY_LM = dict(num_hidden_layers=3, hidden_size=48, intermediate_size=96, num_attention_heads=4,
               num_key_value_heads=2, vocab_size=32064)
TINY_MROPE_LM = dict(TINY_LM, rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                               "mrope_section": [2, 2, 2]})


def narrow(name: str, **changes) -> dict:
    """``name``'s entry with a narrow vision tower and a tiny LM (the visual-token layout unchanged)."""
    spec = dict(vlm.CONFIGS[name], description=f"test-only narrow {name}")
    kind = vlm.config_kind(name)
    if kind in ("llava-next", "llava-next-video"):
        spec.update(vision=NARROW_CLIP_336, text=TINY_LM)
    elif kind == "qwen2-vl":
        spec.update(vision=dict(spec["vision"], depth=1, embed_dim=32, num_heads=2), text=TINY_MROPE_LM)
    else:
        spec.update(text=TINY_LM)
    spec.update(changes)
    return spec


@pytest.fixture
def narrow_config(monkeypatch):
    def make(name: str, **changes) -> str:
        monkeypatch.setitem(vlm.CONFIGS, f"narrow-{name}", narrow(name, **changes))
        return f"narrow-{name}"
    return make


@pytest.mark.parametrize("name", NEW)
def test_config_builds_at_full_size(name):
    """The full configuration builds (meta device: shapes only) into the model class its kind names."""
    model = vlm.build_model(name, device="meta")
    expected = {"llava-next": "LlavaNextForConditionalGeneration",
                "llava-next-video": "LlavaNextVideoForConditionalGeneration",
                "qwen2-vl": "Qwen2VLForConditionalGeneration", "text-lm": "LlamaForCausalLM"}[NEW[name]]
    assert type(model).__name__ == expected and vlm.config_kind(name) == NEW[name]
    from zoo.families import detect

    assert detect(model).name == NEW[name]
    assert vlm.CONFIGS[name]["description"]


def test_declared_layouts():
    """The real models' layouts where the token count depends on them."""
    for name in ("llava-next-160m", "llava-next-video-160m"):
        spec = vlm.CONFIGS[name]
        assert (spec["vision"]["image_size"], spec["vision"]["patch_size"]) == (336, 14)
        assert spec["vision"]["num_hidden_layers"] == 24 and spec["vision"]["hidden_size"] == 1024  # CLIP ViT-L
        assert spec["pinpoints"] == [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
        assert spec["image_size"] == (672, 672)
    vision = vlm.CONFIGS["qwen2-vl-7b-vision"]["vision"]
    assert (vision["depth"], vision["embed_dim"], vision["num_heads"], vision["mlp_ratio"]) == (32, 1280, 16, 4)
    assert "fullatt_block_indexes" not in vision and "window_size" not in vision  # Qwen2-VL: no window attention
    assert vlm.CONFIGS["qwen2-vl-7b-vision"]["grid"] == vlm.CONFIGS["qwen2.5-vl-7b-vision"]["grid"]


def _placed(model, inputs, feat) -> int:
    """Visual features the model's own encoder produces for these inputs (what its forward scatters)."""
    out = model.model.get_image_features(**feat, return_dict=True)
    return sum(int(f.shape[0]) for f in out.pooler_output)


@pytest.mark.parametrize("name, expected", [("llava-next-160m", 576 + 48 * 48 + 48),
                                            ("llava-next-video-160m", 576 + 48 * 48 + 48),
                                            ("qwen2-vl-7b-vision", 64 * 64 // 4)])
def test_prompt_holds_what_the_model_places(narrow_config, name, expected):
    """Placeholder count = the features the model produces, and the model's own forward accepts the prompt."""
    cfg = narrow_config(name)
    model = vlm.build_model(cfg, dtype="fp32")
    inputs, feat = vlm.prompt(model, batch_size=1, n_system=3, n_question=4, device="cpu", name=cfg)
    n_placeholders = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert n_placeholders == expected
    with torch.inference_mode():
        assert _placed(model, inputs, feat) == n_placeholders
        out = model(**inputs, logits_to_keep=1)  # transformers checks placeholders against features here
    assert out.logits.shape[:2] == (1, 1)


def test_llava_next_short_image_count(narrow_config):
    """A 336x672 image (one 1x2 pinpoint): 576 + 24x48 + 24 newlines, as the model gives."""
    cfg = narrow_config("llava-next-160m", image_size=(336, 672))
    model = vlm.build_model(cfg, dtype="fp32")
    inputs, feat = vlm.prompt(model, batch_size=1, n_system=2, n_question=2, device="cpu", name=cfg)
    n = int((inputs["input_ids"] == model.config.image_token_id).sum())
    with torch.inference_mode():
        assert n == _placed(model, inputs, feat) == 576 + 24 * 48 + 24


def test_text_prompt_length():
    """The text-LM configuration's prompt: BOS + system + context + question = 2000 tokens, no pixels."""
    model = vlm.build_model("llama-text-0.1b", device="meta")
    inputs, feat = vlm.prompt(model, batch_size=1, n_system=35, n_question=29, device="cpu", name="llama-text-0.1b")
    assert feat == {} and set(inputs) == {"input_ids", "attention_mask"}
    assert inputs["input_ids"].shape == (1, 2000)


def test_fastv_refuses_text_lm_so_the_text_bench_uses_gemfilter():
    """FastV ranks image tokens: the runtime offers none on a text LM (the text bench records GemFilter)."""
    from zoo.interface import method_class

    assert "text-lm" not in method_class("fastv").families
    assert "text-lm" in method_class("gemfilter").families
    assert BENCHES["text-lm"] == "zoo.bench.vlm:bench" and bench_function("text-lm").__module__ == "zoo.bench.vlm"
    assert family_for(tuple(method_class("gemfilter").families), "text-lm") == "text-lm"


@pytest.mark.parametrize("name", ["llava-next-160m", "llava-next-video-160m", "qwen2-vl-7b-vision"])
def test_bench_record_on_shrunk_config(narrow_config, name):
    """One bench call: a valid record, the adapter's family, FastV's schedule on the exact visual-token count."""
    changes = {"image_size": (336, 336)} if "llava" in name else {"grid": (1, 8, 8)}
    cfg = narrow_config(name, **changes)
    rec = vlm.bench("fastv", {"k": 1, "keep_ratio": 0.5}, model=cfg, dtype="fp32", threads=1, warmup=0, repeats=1,
                    n_system=3, n_question=4, memory=False)
    n_img = 576 + 24 * 24 + 24 if "llava" in name else 16  # a 336x336 image: base tile + 1x1 grid with newlines
    n_text = 1 + 3 + 4 + (0 if "llava" in name else 2)   # Qwen: vision start/end tokens
    assert rec["family"] == NEW[name] and rec["method"] == "fastv"
    assert rec["setting"]["prompt"]["image"] == n_img and rec["tokens"]["llm_input"] == n_img + n_text
    assert rec["tokens"]["llm_entering_layer"] == [n_img + n_text] + [n_img // 2 + n_text] * 2
    assert rec["flops"]["theoretical_speedup"] > 1 and rec["flops"]["lookahead"] == []
    json.dumps(rec)


def test_text_bench_record(narrow_config):
    """GemFilter on the text LM: the record counts the look-ahead layers in the method's cost."""
    from zoo.flops import llm as flops

    cfg = narrow_config("llama-text-0.1b", context_tokens=40)
    rec = vlm.bench("gemfilter", {"layer": 1, "keep_ratio": 0.5}, model=cfg, dtype="fp32", threads=1, warmup=0,
                    repeats=1, n_system=3, n_question=4)
    n = 1 + 3 + 40 + 4
    assert rec["family"] == "text-lm" and rec["setting"]["prompt"]["context"] == 40
    assert rec["tokens"]["baseline_llm_input"] == n and rec["tokens"]["llm_entering_layer"] == [n // 2] * 3
    assert rec["flops"]["lookahead"] == [{"layers": 1, "tokens": n}]
    dc = flops.DecoderConfig.from_dict(dict(TINY_LM, hidden_act="silu"))
    base, reduced, ahead = (3 * flops.layer_flops(n, dc), 3 * flops.layer_flops(n // 2, dc), flops.layer_flops(n, dc))
    assert rec["flops"]["theoretical_speedup"] == pytest.approx(base / (reduced + ahead))
    assert rec["flops"]["method_gmacs"] == pytest.approx((reduced + ahead) / 2e9)
    assert "memory" in rec and "prefill" in rec
    json.dumps(rec)


def test_qwen2_audio_config_places_750_audio_tokens_per_30s_and_benches(monkeypatch):
    """Qwen2-Audio-7B layout: 3000 mel frames (30 s) -> 750 audio placeholders, as the model's own audio tower
    gives; one bench call (tiny LM, narrow tower) records the qwen2-audio family and FastAdaSP's schedule; the
    timed prefill does not re-run the audio tower."""
    from zoo.families import detect

    full = vlm.build_model("qwen2-audio-7b-narrow", device="meta")
    assert type(full).__name__ == "Qwen2AudioForConditionalGeneration" and detect(full).name == "qwen2-audio"
    spec = dict(vlm.CONFIGS["qwen2-audio-7b-narrow"], text=TINY_LM,
                audio=dict(vlm.CONFIGS["qwen2-audio-7b-narrow"]["audio"], encoder_layers=1, d_model=32,
                           encoder_ffn_dim=64))
    monkeypatch.setitem(vlm.CONFIGS, "narrow-audio", spec)
    model = vlm.build_model("narrow-audio", dtype="fp32")
    inputs, feat = vlm.prompt(model, batch_size=1, n_system=3, n_question=4, device="cpu", name="narrow-audio")
    assert int((inputs["input_ids"] == vlm.AUDIO_TOKEN_ID).sum()) == 750 and set(feat) == {
        "input_features", "feature_attention_mask"}
    with torch.inference_mode():
        n_prompt = inputs["input_ids"].shape[1]
        assert model(**inputs).logits.shape[:2] == (1, n_prompt)  # the model accepts the placeholders
    calls = []
    tower = model.model.audio_tower
    hook = tower.conv1.register_forward_pre_hook(lambda module, args: calls.append(1))  # runs only when encoding
    try:
        monkeypatch.setattr(vlm, "build_model", lambda name, **kw: model)
        rec = vlm.bench("fastadasp", {"merge_ratio": 0.5, "layer": 1}, model="narrow-audio", dtype="fp32", threads=1,
                        warmup=0, repeats=1, n_system=3, n_question=4, memory=False)
    finally:
        hook.remove()
    assert rec["family"] == "qwen2-audio" and rec["setting"]["prompt"]["image"] == 750
    assert rec["tokens"]["llm_entering_layer"] == [758, 758, 383]  # merged inside layer 1 (its MLP: 383)
    assert len(calls) == 1 and rec["flops"]["theoretical_speedup"] > 1
    assert not hasattr(tower, "forward") or "forward" not in vars(tower)  # the bench's patches are gone
    assert not model.lm_head._forward_pre_hooks
    json.dumps(rec)
