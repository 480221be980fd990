"""Every encoder method on every encoder adapter (one case table, kvpress-style), the support
matrix against what ``zoo.apply`` does, and the HF loaders.

The case table is the ViT one (``tests/test_vit_methods.py``: method, parameters, expected token
counts from the input count ``n`` and the protected prefix ``p``); every tiny model has 4 blocks
and 64 reducible tokens (``tests/encoder_fixtures.py``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("transformers")

import zoo  # noqa: E402
from encoder_fixtures import BATCH, MODELS, hidden, main_output  # noqa: E402
from test_vit_methods import CASES, IDS, NOOP  # noqa: E402
from vit_fixtures import assert_same_snapshot, snapshot  # noqa: E402
from zoo.families.encoders import ENCODER_FAMILIES  # noqa: E402
from zoo.families.encoders.support import support, support_matrix  # noqa: E402

ADAPTERS = list(MODELS)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one intra-op thread for tiny models


@pytest.fixture(scope="module")
def built():
    return {name: build() for name, build in MODELS.items()}


def adapter_of(name: str) -> str:
    return name.split("/")[0]


def runs_on(method: str, params: dict, name: str, p: int) -> bool:
    """What the support matrix says for this model (``depends``: the timm model here has a class token)."""
    from zoo.families.encoders.support import required_signals

    needs_cls = "class_token" in required_signals(zoo.method_class(method)(**params))
    return support(method, adapter_of(name), **params).ok and not (p == 0 and needs_cls)


@pytest.mark.parametrize("name", ADAPTERS)
def test_detection_and_facts(built, name):
    from zoo.families import detect

    model, inputs, p = built[name]
    adapter = detect(model)
    assert adapter.name == adapter_of(name)
    assert adapter.num_prefix_tokens == p and adapter.depth() == 4
    assert adapter.has_class_token == (p > 0)
    assert adapter.stage in ("vit", "text", "audio")


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("method,params,expected", CASES, ids=IDS)
def test_every_method_on_every_adapter(built, name, method, params, expected):
    model, inputs, p = built[name]
    if not runs_on(method, params, name, p):
        with pytest.raises(ValueError, match="class token|grid"):
            zoo.apply(model, method, **params)
        assert not hasattr(model, "_tokzoo_handle") or not model._tokzoo_handle.active
        return
    n = 64 + p
    with torch.no_grad():
        base = main_output(model(**inputs))
        before = snapshot(model)
        with zoo.apply(model, method, record_sources=True, record_indices=True, **params) as h:
            out = main_output(model(**inputs))
            run, stage = h.run, h.adapter.stage
        after = main_output(model(**inputs))
    assert out.shape[0] == base.shape[0] == BATCH and torch.isfinite(out).all()
    if out.shape == base.shape:
        assert not torch.equal(out, base), f"{method} changed nothing on {name}"
    assert torch.equal(after, base)
    assert_same_snapshot(before, snapshot(model))
    assert run.input_tokens[stage] == n
    if expected is not None:
        assert run.tokens[stage] == expected(n, p), name
    for rep in run.kept_indices[stage]:
        assert rep[:, :p].tolist() == [list(range(p))] * BATCH  # the prefix stays first, in order
    src = run.sources[stage]
    assert src.shape == (BATCH, run.tokens[stage][-1], n) and bool((src.sum(1) <= 1).all())


@pytest.mark.parametrize("name", [n for n in ADAPTERS if n != "timm-vit"])
@pytest.mark.parametrize("method", sorted(m for m, v in NOOP.items() if v is not None))
def test_noop_budget_is_exactly_the_model(built, name, method):
    model, inputs, p = built[name]
    if not runs_on(method, NOOP[method], name, p):
        pytest.skip(f"{method} does not run on {name}")
    with torch.no_grad():
        base = main_output(model(**inputs))
        with zoo.apply(model, method, **NOOP[method]) as h:
            out = main_output(model(**inputs))
    assert torch.equal(out, base)
    assert h.run.tokens[h.adapter.stage] == [64 + p] * 4


@pytest.mark.parametrize("name", [n for n in ADAPTERS if n != "timm-vit"])
def test_batch_rows_are_independent(built, name):
    model, inputs, p = built[name]
    for method, params, _ in CASES:
        if method == "random" or not runs_on(method, params, name, p):
            continue
        with torch.no_grad(), zoo.apply(model, method, **params):
            batch = main_output(model(**inputs))
            singles = [main_output(model(**{k: v[i:i + 1] for k, v in inputs.items()})) for i in range(BATCH)]
        if any(s.shape[1:] != batch.shape[1:] for s in singles):
            # adaptive counts (ATS) pad the shorter rows of a batch: compare the prefix tokens (CLS)
            batch, singles = batch[:, :max(p, 1)], [s[:, :max(p, 1)] for s in singles]
        torch.testing.assert_close(batch, torch.cat(singles), rtol=1e-4, atol=1e-5, msg=f"{method} on {name}")


def test_support_matrix_covers_every_pair_and_agrees_with_apply(built):
    matrix = support_matrix()
    methods = {s.method for s in matrix}
    assert {"tome", "evit", "zero-tprune", "token-fusion", "ppt", "gtp-vit", "ats", "random", "pitome",
            "power-bert", "a-tome"} <= methods
    assert {(s.method, s.adapter) for s in matrix} == {(m, a) for m in methods for a in ENCODER_FAMILIES}
    by_pair = {(s.method, s.adapter): s for s in matrix}
    assert by_pair["evit", "hf-siglip-vision"].status == "no" and "class token" in by_pair["evit", "hf-siglip-vision"].reason
    assert by_pair["evit", "timm-vit"].status == "depends"
    assert by_pair["gtp-vit", "hf-bert"].status == "no" and "semantic" in by_pair["gtp-vit", "hf-bert"].reason
    assert support("gtp-vit", "hf-bert", graph="semantic").status == "yes"
    assert by_pair["tome", "hf-whisper-encoder"].status == "yes"
    # what the matrix says is what apply does, on each family's tiny model (4 blocks: earlier layers)
    four_blocks = {"evit": {"layers": (1, 2)}, "ppt": {"layers": (1, 2), "r": 4}, "ats": {"layers": (1, 2)},
                   "random": {"layers": 1}, "power-bert": {"layers": (1, 2)}}
    for name, (model, inputs, p) in built.items():
        for method in methods:
            verdict = by_pair[method, adapter_of(name)]
            params = four_blocks.get(method, {})
            if verdict.status == "no":
                with pytest.raises(ValueError, match="class token|grid"):
                    zoo.apply(model, method, **params)
            elif verdict.status == "yes":
                with torch.no_grad(), zoo.apply(model, method, **params):
                    model(**inputs)
    with pytest.raises(KeyError, match="unknown adapter"):
        support("tome", "no-such-adapter")


def test_unsupported_layer_kinds_are_named(built):
    from transformers import BertModel

    from encoder_fixtures import bert_config

    model = BertModel(bert_config())

    class MyLayer(type(model.encoder.layer[0])):
        def forward(self, *args, **kwargs):
            return super().forward(*args, **kwargs)

    model.encoder.layer[1].__class__ = MyLayer
    with pytest.raises(TypeError, match="layer 1 is MyLayer; supported layers: BertLayer"):
        zoo.apply(model, "tome", r=2)
    decoder = BertModel(bert_config(is_decoder=True))
    with pytest.raises(TypeError, match="decoder"):
        zoo.apply(decoder, "tome", r=2)


def test_hf_models_reload_through_from_pretrained(tmp_path, built):
    """Tiny BERT and AST saved and reloaded by transformers' own loader keep working with a method."""
    from transformers import ASTForAudioClassification, BertModel

    for name, cls in (("hf-bert", BertModel), ("hf-ast", ASTForAudioClassification)):
        model, inputs, _ = built[name]
        model.save_pretrained(tmp_path / name)
        loaded = cls.from_pretrained(tmp_path / name).eval()
        with torch.no_grad():
            torch.testing.assert_close(main_output(loaded(**inputs)), main_output(model(**inputs)))
            with zoo.apply(loaded, "tome", r=8) as h:
                out = hidden(loaded(**inputs))
        assert h.run.tokens[h.adapter.stage][-1] < 64 and out.shape[0] == BATCH


def test_whisper_generation_model_reads_the_reduced_encoder():
    """ToMe on the encoder of a whole Whisper model: the decoder cross-attends the shorter output."""
    from transformers import WhisperForConditionalGeneration

    from encoder_fixtures import whisper_config

    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(whisper_config()).eval()
    feats = torch.randn(2, 16, 128, generator=torch.Generator().manual_seed(0))
    dec = torch.tensor([[1, 5, 6], [1, 7, 8]])
    with torch.no_grad():
        base = model(input_features=feats, decoder_input_ids=dec)
        with zoo.apply(model, "tome", r=8) as h:
            out = model(input_features=feats, decoder_input_ids=dec)
        again = model(input_features=feats, decoder_input_ids=dec)
    assert h.adapter.name == "hf-whisper-encoder"
    assert out.encoder_last_hidden_state.shape[1] == h.run.tokens["audio"][-1] < 64
    assert out.logits.shape == base.logits.shape and torch.isfinite(out.logits).all()
    assert torch.equal(again.logits, base.logits)


def test_empty_batch_runs_unreduced(built):
    """Issue 17: a batch of size 0 used to crash ATS; every method now passes it through unreduced."""
    for name in ("timm-vit",):  # (HF ViT/BERT themselves cannot run a batch of 0: their view(..., -1) fails)
        model, inputs, p = built[name]
        empty = {k: v[:0] for k, v in inputs.items()}
        for method, params in (("ats", {"layers": (1, 2)}), ("tome", {"r": 4}), ("evit", {"layers": (1,)})):
            with torch.no_grad():
                base = main_output(model(**empty))
                with zoo.apply(model, method, **params) as h:
                    out = main_output(model(**empty))
            assert out.shape == base.shape and out.shape[0] == 0
            assert h.run.tokens[h.adapter.stage] == [64 + p] * 4
