"""The file-exchange conformance harness (tokzoo <-> another interpreter with the authors' transformers 4.x).

No second environment is needed: the driver runs under this interpreter with its ``stock``
reference (transformers' own ``LlamaForCausalLM``, no method), and the comparison logic is
checked against fake official results. The real comparisons are repro claims that skip with
``needs official python ...`` when the environment is absent.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest
import torch

import zoo.repro as zr
from zoo.repro.conformance import Reference
from zoo.repro.harness import conformance_ats, conformance_llm_tf4 as tf4, tf4_driver
from zoo.repro.spec import Unavailable

sys.path.insert(0, str(Path(__file__).parent))
from vlm_fixtures import make_inputs, tiny_llava_config  # noqa: E402

TRANSFORMERS = __import__("transformers").__version__


def _tiny(dtype=torch.float64, layers: int = 4):
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(0)
    cfg = tiny_llava_config(text_layers=layers, kv_heads=4)
    cfg._attn_implementation = "eager"
    model = LlavaForConditionalGeneration(cfg).to(dtype).eval()
    inputs = make_inputs(model, batch=1, prefixes=(4,), suffixes=(6,), left_pad=False)
    return model, inputs


def _rows(*values):
    return [bytes([v]) for v in values]


# ----------------------------------------------------------------------------- the driver's own logic
def test_driver_imports_nothing_of_tokzoo():
    tree = ast.parse(Path(tf4_driver.__file__).read_text())
    names = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [n for n in names if n == "zoo" or n.startswith("zoo.")]


def test_rows_are_matched_exactly_and_reductions_found_between_layers():
    assert tf4_driver.match_rows(_rows(1, 2, 3, 2), _rows(3, 2, 9)) == [2, 1, -1]  # first of equal rows, -1 = new
    inputs = [(3, _rows(1, 2, 3)), (3, _rows(4, 5, 6)), (2, _rows(6, 4)), (2, _rows(7, 8))]
    outputs = [_rows(4, 5, 6), _rows(4, 5, 6), _rows(7, 8), _rows(9, 9)]
    assert tf4_driver.reductions(inputs, outputs) == [{"layer": 2, "n_before": 3, "n_after": 2, "kept": [2, 0]}]


def test_layer_trace_sees_a_reduction_made_between_two_layers():
    layers = torch.nn.ModuleList([torch.nn.Linear(4, 4, dtype=torch.float64) for _ in range(3)])
    trace = tf4_driver.LayerTrace(layers)
    x = torch.randn(1, 5, 4, dtype=torch.float64)
    h = layers[0](x)
    h = layers[1](h)
    kept = h[:, [0, 3, 4]]
    extra = h[:, 1:3].mean(1, keepdim=True)  # a merged token
    layers[2](torch.cat([kept[:, :2], extra, kept[:, 2:]], dim=1))
    out = trace.close()
    assert out["tokens_entering_layer"] == [5, 5, 4] and out["tokens_after_last_layer"] == 4
    assert out["reductions"] == [{"layer": 2, "n_before": 5, "n_after": 4, "kept": [0, 3, -1, 4]}]
    assert all(not h._forward_hooks and not h._forward_pre_hooks for h in layers)


def test_attention_mask_reductions_are_read_from_the_last_query_row():
    causal = torch.triu(torch.full((4, 4), torch.finfo(torch.float64).min, dtype=torch.float64), 1)[None, None]
    pruned = causal.clone()
    pruned[..., 1] = torch.finfo(torch.float64).min  # key 1 hidden from every query
    assert tf4_driver.visible_keys(causal) == [0, 1, 2, 3] and tf4_driver.visible_keys(pruned) == [0, 2, 3]
    assert tf4_driver.visible_keys(None) is None
    visible = [[0, 1, 2, 3], [0, 1, 2, 3], [0, 2, 3], [0, 2, 3], [0, 2]]
    assert tf4_driver.mask_changes(visible, [4, 4, 4, 4, 3]) == [{"layer": 2, "visible": [0, 2, 3]}]  # 4: dropped


def test_request_params_are_checked_and_the_sparsevlm_noise_switch_restores_torch():
    with pytest.raises(ValueError, match=r"params \['attention_rank', 'inplace'\] missing"):
        tf4_driver.official_params({"method": "fastv", "params": {"agg_layer": 2}})
    fake = types.SimpleNamespace(torch=torch)
    with tf4_driver._cluster_noise(fake, "zero"):
        assert torch.equal(fake.torch.rand(3), torch.zeros(3)) and fake.torch.ones(2).sum() == 2
    assert fake.torch is torch
    with tf4_driver._cluster_noise(fake, "as drawn"):
        assert fake.torch is torch
    with pytest.raises(ValueError, match="noise="):
        with tf4_driver._cluster_noise(fake, "some"):
            pass


def test_buffers_are_summarised_with_layer_numbers_folded():
    names = [f"model.layers.{i}.self_attn.rotary_emb.inv_freq" for i in range(3)] + ["model.norm.x"]
    assert tf4_driver.buffer_summary(names) == {"model.layers.*.self_attn.rotary_emb.inv_freq": 3, "model.norm.x": 1}


# ----------------------------------------------------------------------------- the exchange, end to end
def test_other_python_is_found_checked_and_skips_with_the_variable_to_set(monkeypatch):
    for var in tf4.python_env_vars("someone/fake"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(Unavailable, match="TOKZOO_OFFICIAL_PYTHON_SOMEONE_FAKE or TOKZOO_OFFICIAL_PYTHON"):
        tf4.other_python("someone/fake", "4.37.")
    monkeypatch.setenv("TOKZOO_OFFICIAL_PYTHON", sys.executable)
    with pytest.raises(Unavailable, match=f"has transformers {TRANSFORMERS}"):
        tf4.other_python("someone/fake", "4.37.")
    path, versions = tf4.other_python("someone/fake", TRANSFORMERS)
    assert path == sys.executable and versions["torch"].split("+")[0] == torch.__version__.split("+")[0]
    monkeypatch.setenv("TOKZOO_OFFICIAL_PYTHON_SOMEONE_FAKE", "/nonexistent/python")
    with pytest.raises(Unavailable, match="does not run"):
        tf4.other_python("someone/fake", TRANSFORMERS)


STOCK = tf4.Setup("stock", "eager", TRANSFORMERS, lambda params, start, n: {}, "transformers LlamaForCausalLM")


def test_a_reference_that_prunes_nothing_is_caught_by_the_comparison():
    """Whole pipeline (tokzoo run, exchange files, driver subprocess, comparison), this interpreter as the
    'other' one and its stock Llama as a fake official code that does not prune: the weights and inputs
    tokzoo wrote give bit-identical method-off outputs there; the kept-token checks fail."""
    model, inputs = _tiny()
    assert tf4.image_span(model, inputs) == (5, 16)
    ref = Reference("checkout", "someone/fake", path=Path("."), commit="abcdef0")
    m = tf4.compare_llm(ref, "fastv", {"k": 2, "keep_ratio": 0.5}, "float64", STOCK, python=sys.executable,
                        model=model, inputs=inputs, model_label="tiny")
    diffs = m.details["max_abs_diff"]
    assert diffs["lm_head input, method off"] == 0 and diffs["logits, method off"] == 0
    assert m.details["official_environment"]["transformers"] == TRANSFORMERS
    assert m.details["tokens_after_layer"]["official"] == [27, 27, 27, 27]
    assert diffs["lm_head input, method on"] == float("inf")  # 19 tokens out vs 27
    assert m.checks == {"same kept token indices at every reduction": False, "same tokens after every layer": False,
                        "official baseline makes no reduction": True}
    assert m.details["reductions_found"] == {"tokzoo": 1, "official": 0} and m.details["model"] == "tiny"


def _fake_official(base, ours):
    """An official result equal to tokzoo's own run (what a conforming reference returns)."""
    n0 = base["hidden"].shape[1]
    layers = sorted(ours["entering"])
    entering = [int(ours["entering"][i].shape[1]) for i in layers]
    reductions = [{"layer": i, "n_before": entering[i - 1], "n_after": entering[i], "kept": kept}
                  for i, kept in zip([i for i in layers[1:] if entering[i] != entering[i - 1]], ours["kept"])]
    theirs = {"baseline": {"reductions": [], "tokens_entering_layer": [n0] * len(layers)},
              "method": {"reductions": reductions, "tokens_entering_layer": entering,
                         "tokens_after_last_layer": int(ours["hidden"].shape[1])}, "runs": ["baseline", "method"]}
    tensors = {"baseline_hidden": base["hidden"], "baseline_logits": base["logits"], "hidden": ours["hidden"],
               "logits": ours["logits"], **{f"entering_layer_{r['layer']}": ours["entering"][r["layer"]]
                                            for r in reductions}}
    return theirs, tensors


def test_comparison_of_kept_indices_tokens_and_merged_tokens():
    model, inputs = _tiny(layers=4)
    base = tf4.baseline_run(model, inputs)
    ours = tf4.method_run(model, inputs, "sparsevlm", {"layers": (0, 1), "schedule": (8, 4)})
    theirs, tensors = _fake_official(base, ours)
    diffs, checks, details = tf4.compare_runs(base, ours, theirs, tensors)
    assert all(checks.values()) and max(diffs.values()) == 0
    assert [k for k in diffs if k.startswith("new (merged)")] == ["new (merged) tokens entering layer 1",
                                                                   "new (merged) tokens entering layer 2"]
    assert details["tokens_after_layer"]["tokzoo"] == details["tokens_after_layer"]["official"]
    # one kept index off, one merged token off, one extra official run
    theirs["method"]["reductions"][0]["kept"] = [*theirs["method"]["reductions"][0]["kept"][:-1], 0]
    bumped = tensors["entering_layer_1"].clone()
    bumped[0, -3] += 0.5
    tensors["entering_layer_1"] = bumped
    theirs["runs"].append("noise_seed0")
    theirs["noise_seed0"] = {**theirs["method"], "options": {"seed": 0}}
    tensors.update({f"noise_seed0_{k}": v for k, v in tensors.items() if not k.startswith("baseline")})
    diffs, checks, details = tf4.compare_runs(base, ours, theirs, tensors)
    assert checks["same kept token indices at every reduction"] is False
    assert details["tokens_kept_by_tokzoo_only_per_reduction"][0] == 1
    assert max(v for k, v in diffs.items() if "layer 1" in k) == pytest.approx(0.5)
    assert details["other_official_runs"]["noise_seed0"]["same kept token indices at every reduction"] is False


def test_official_settings_in_the_official_codes_own_names():
    assert tf4._fastv_settings({"k": 3, "R": 0.75}, 12, 576) == {
        "agg_layer": 3, "inplace": True, "attention_rank": 144, "sys_length": 12, "image_token_length": 576}
    assert tf4._fastv_settings({"k": 2, "keep_tokens": 100, "variant": "mask"}, 0, 576)["attention_rank"] == 100
    assert tf4._pdrop_settings({"layers": [8, 16, 24], "lam": 0.5}, 0, 576)["image_token_ratio_list"] == [
        0.5, 0.25, 0.125]
    assert tf4._sparsevlm_settings({"tokens": 128}, 0, 576)["retain_tokens"] == 128
    with pytest.raises(ValueError, match="fixed layers"):
        tf4._sparsevlm_settings({"layers": (1, 2, 3), "tokens": 64}, 0, 576)


# ----------------------------------------------------------------------------- ATS helpers
def test_ats_provenance_and_composition():
    raw = torch.arange(12, dtype=torch.float64).reshape(1, 4, 3)
    selected = torch.stack([raw[0, 0], raw[0, 3], raw[0, 1], torch.zeros(3, dtype=torch.float64)])[None]
    policy = torch.tensor([[[1.0], [1.0], [1.0], [0.0]]])
    assert conformance_ats._provenance(raw, selected, policy) == [[0, 3, 1]]
    assert conformance_ats._compose([[0, 3, 1], [0, 2]], 4) == [[0, 1, 3], [0, 1]]


# ----------------------------------------------------------------------------- the shipped claims
@pytest.mark.parametrize("paper, prefix", [("fastv", "conformance-llava15"), ("pyramiddrop", "conformance-llava15"),
                                           ("sparsevlm", "conformance-llava15")])
def test_the_llm_claims_skip_without_the_other_interpreter(paper, prefix, tmp_path, monkeypatch):
    spec = zr.load_spec(paper)
    claims = [c for c in spec.claims if c.kind == "conformance"]
    assert {c.setting["dtype"] for c in claims} >= {"float64", "float32"} and all(c.id.startswith(prefix)
                                                                                   for c in claims)
    repo = next(n for n in claims[0].needs if n.startswith("official:"))[len("official:"):].split("@")[0]
    for var in tf4.python_env_vars(repo):
        monkeypatch.delenv(var, raising=False)
    rec = zr.run_claim(spec, claims[0], zr.RunOptions(write=False))
    assert rec.status == "skipped" and rec.reason.startswith("needs official checkout")
    rec = zr.run_claim(spec, claims[0], zr.RunOptions(write=False, official={"": str(tmp_path)}))
    assert rec.status == "skipped" and rec.reason.startswith("needs official python with transformers 4.3")


def test_the_ats_claims_name_their_harness_and_skip_without_a_checkout(monkeypatch):
    spec = zr.load_spec("ats")
    claims = [c for c in spec.claims if c.kind == "conformance"]
    assert {c.setting["dtype"] for c in claims} == {"float64", "float32"}
    assert all(c.setting["harness"] == "zoo.repro.harness.conformance_ats:ats" for c in claims)
    monkeypatch.delenv("TOKZOO_OFFICIAL_ADAPTIVETOKENSAMPLING_ATS", raising=False)
    rec = zr.run_claim(spec, claims[0], zr.RunOptions(write=False))
    assert rec.status == "skipped" and "adaptivetokensampling/ATS@9271257" in rec.reason
