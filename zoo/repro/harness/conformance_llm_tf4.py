"""Conformance of the LLM-side LLaVA methods against authors' code that needs an older transformers.

FastV (its transformers 4.31 fork), PyramidDrop and SparseVLM (transformers 4.37.2) prune
inside their own copies of the transformers-4.x Llama decoder forward; those modules do not
import under the transformers 5 that tokzoo runs on. The comparison therefore runs the
official code in **another Python interpreter** and exchanges the model and the input
through files:

1. tokzoo side (this process): a randomly initialised HF ``LlavaForConditionalGeneration``
   of LLaVA-1.5's layout (CLIP ViT-L/14-336 depth, 576 patches, narrow widths; a 32-layer
   narrow Llama), in ``dtype``, one seeded prompt ``BOS + system + 576 image + question``.
   A baseline forward records the sequence entering the decoder (``inputs_embeds``, read with
   a forward pre-hook on the language model) and the input/output of ``lm_head``; then
   ``zoo.apply(model, method, record_indices=True, **params)`` runs the method: ``lm_head``'s
   input and output, the kept indices of every reduction (``run.kept_indices["llm"]``) and
   the tokens per layer.
2. exchange folder (temporary): the language model's weights in transformers-4.x
   ``LlamaForCausalLM`` names, ``inputs_embeds``, and a request (method, official settings
   in the official code's own names, dtype, image span);
3. other interpreter: :mod:`zoo.repro.harness.tf4_driver` (a file of tokzoo that imports
   nothing of tokzoo) builds the official model class from the checkout, loads the weights,
   runs the official forward with the method off and on, and writes back the same tensors,
   the hidden-state length entering every decoder layer and every reduction (which rows of
   the previous layer's output enter the next layer, matched exactly; ``-1`` for a token the
   method made, such as a SparseVLM cluster);
4. compare: kept indices of every reduction (tokzoo's ``kept_indices`` are indices into the
   sequence entering the event, the same thing), tokens per layer, the largest difference of
   ``lm_head``'s input and output, method off and on.

The other interpreter: env ``TOKZOO_OFFICIAL_PYTHON_<OWNER>_<REPO>`` (as the checkout's env
var, with ``PYTHON_`` inserted; e.g. ``TOKZOO_OFFICIAL_PYTHON_COOPERX521_PYRAMIDDROP``) or
``TOKZOO_OFFICIAL_PYTHON`` for all of them: the path of a ``python`` that has ``torch``,
``safetensors`` and the transformers version the claim names (plus what the official modules
import: ``einops`` and ``pillow`` for the LLaVA-based repositories). When none is set the
claim is skipped (``needs official python ...``). The other interpreter runs with
``PYTHONPATH`` unset, ``HF_HUB_OFFLINE=1``, in the exchange folder.

Only public APIs are used on the tokzoo side: ``zoo.apply`` and the run record, HF's module
attributes (``model.model.language_model``, ``lm_head``) and torch forward hooks.
"""

from __future__ import annotations

import json
import os
from collections import Counter
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from zoo.repro.conformance import Reference, measurement
from zoo.repro.harness.official import max_abs_diff, torch_dtype
from zoo.repro.spec import Measurement, Unavailable

SEED = 0
DRIVER = Path(__file__).with_name("tf4_driver.py")
N_SYSTEM, N_QUESTION = 12, 12
#: the narrow LLaVA-1.5 layout of the comparison (LLM widths shrunk, depth kept)
TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
        "num_hidden_layers": 32}
TIMEOUT_S = 1800
MODEL_LABEL = (f"LLaVA-1.5 layout (CLIP ViT-L/14-336 depth, 576 patches, narrow) with a 32-layer narrow Llama "
               f"({TEXT['hidden_size']} wide, {TEXT['num_attention_heads']} heads), random weights "
               f"(torch.manual_seed({SEED}))")


# ----------------------------------------------------------------------------- the other interpreter
def python_env_vars(repo: str) -> tuple[str, str]:
    """``(TOKZOO_OFFICIAL_PYTHON_<OWNER>_<REPO>, TOKZOO_OFFICIAL_PYTHON)`` for ``owner/name``."""
    tail = "".join(ch if ch.isalnum() else "_" for ch in repo).upper()
    return f"TOKZOO_OFFICIAL_PYTHON_{tail}", "TOKZOO_OFFICIAL_PYTHON"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def other_python(repo: str, transformers: str) -> tuple[str, dict[str, str]]:
    """Path and versions (``tf4_driver.py --versions``) of the interpreter given for ``repo``.

    ``transformers``: the version prefix the interpreter must have (e.g. ``"4.37."``); raises
    :class:`Unavailable` (the claim is skipped) when no interpreter is given, it does not run,
    or its transformers differs."""
    specific, generic = python_env_vars(repo)
    path = os.environ.get(specific) or os.environ.get(generic)
    wanted = (f"official python with transformers {transformers}* for {repo} (set {specific} or {generic}; "
              "see the claim's notes)")
    if not path:
        raise Unavailable(wanted)
    try:
        out = subprocess.run([path, str(DRIVER), "--versions"], capture_output=True, text=True, timeout=120,
                             env=_clean_env(), cwd=tempfile.gettempdir())
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(f"{wanted}: {path} does not run ({exc})") from None
    if out.returncode != 0:
        raise Unavailable(f"{wanted}: {path} failed: {out.stderr.strip()[-300:]}")
    versions = json.loads(out.stdout.strip().splitlines()[-1])
    if not str(versions.get("transformers", "")).startswith(transformers):
        raise Unavailable(f"{wanted}: {path} has transformers {versions.get('transformers')}")
    return path, versions


def run_driver(python: str, folder: Path, *, timeout: int = TIMEOUT_S) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the driver on an exchange ``folder``; returns ``(result.json, result tensors)``."""
    from safetensors.torch import load_file

    out = subprocess.run([python, str(DRIVER), str(folder)], capture_output=True, text=True, timeout=timeout,
                         env=_clean_env(), cwd=str(folder))
    if out.returncode != 0:
        raise RuntimeError(f"official driver failed (exit {out.returncode}): {out.stderr.strip()[-2000:]}")
    result = json.loads((folder / "result.json").read_text())
    result["driver_stderr_tail"] = out.stderr.strip().splitlines()[-5:]
    return result, load_file(str(folder / "result.safetensors"))


# ----------------------------------------------------------------------------- tokzoo side
def llava_model(dtype: str, attn: str):
    """The random narrow LLaVA-1.5 layout in ``dtype`` and its seeded prompt (one row)."""
    import torch

    from zoo.repro.harness.vlm import random_llava, synthetic_prompt

    torch.manual_seed(SEED)
    model = random_llava("llava-1.5-7b", device="cpu", dtype="float32", attn=attn, narrow_vision=True, **TEXT)
    cast_parameters(model, dtype)
    inputs = synthetic_prompt(model, n_system=N_SYSTEM, n_question=N_QUESTION, device="cpu", seed=SEED)
    return model, inputs


def cast_parameters(model, dtype: str):
    """Parameters to ``dtype``, buffers left as built (float32 rotary ``inv_freq``), as a model loaded
    with ``from_pretrained(dtype=...)`` has them; ``model.to(bfloat16)`` would round ``inv_freq`` to
    bfloat16 and move every rotary angle. The official side does the same."""
    import torch

    with torch.no_grad():
        for p in model.parameters():
            p.data = p.data.to(torch_dtype(dtype))
    return model.eval()


def _language_model(model):
    inner = getattr(model, "model", model)
    return inner.language_model


def _head_hook(model, into: dict):
    return model.lm_head.register_forward_hook(lambda mod, args, out: into.update(hidden=args[0], logits=out))


def baseline_run(model, inputs) -> dict[str, Any]:
    """Unpatched forward: ``inputs_embeds`` entering the decoder, ``lm_head`` input and output."""
    import torch

    seen: dict[str, Any] = {}
    pre = _language_model(model).register_forward_pre_hook(
        lambda mod, args, kwargs: seen.update(inputs_embeds=kwargs["inputs_embeds"]), with_kwargs=True)
    head = _head_hook(model, seen)
    try:
        with torch.inference_mode():
            model(**inputs, use_cache=False)
    finally:
        pre.remove()
        head.remove()
    return seen


def method_run(model, inputs, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """``zoo.apply`` run: ``lm_head`` input/output, kept indices per reduction, tokens per layer."""
    import torch

    import zoo

    seen: dict[str, Any] = {"entering": {}}
    head = _head_hook(model, seen)
    hooks = []
    try:
        with zoo.apply(model, method, record_indices=True, **params) as handle, torch.inference_mode():
            # registered after zoo.apply's own hooks, so they see the layer inputs after any reduction
            for i, layer in enumerate(_language_model(model).layers):
                hooks.append(layer.register_forward_pre_hook(
                    lambda mod, args, kwargs, i=i: seen["entering"].__setitem__(
                        i, (args[0] if args else kwargs["hidden_states"]).detach().clone()), with_kwargs=True))
            model(**inputs, use_cache=False)
            run = handle.run
            seen["kept"] = [k[0].tolist() for k in run.kept_indices.get("llm", [])]
            seen["tokens"] = list(run.tokens.get("llm", []))
    finally:
        head.remove()
        for hook in hooks:
            hook.remove()
    return seen


def llama_config(model) -> dict[str, Any]:
    """The language model's config as plain ``LlamaConfig`` fields that transformers 4.31-5 all read."""
    tc = model.config.text_config
    rope = dict(getattr(tc, "rope_parameters", None) or getattr(tc, "rope_scaling", None) or {})
    theta = rope.get("rope_theta", getattr(tc, "rope_theta", 10000.0))
    if (rope.get("rope_type") or rope.get("type") or "default") != "default":
        raise ValueError(f"the exchange supports the default rotary embedding only (model: {rope})")
    return {"vocab_size": tc.vocab_size, "hidden_size": tc.hidden_size, "intermediate_size": tc.intermediate_size,
            "num_hidden_layers": tc.num_hidden_layers, "num_attention_heads": tc.num_attention_heads,
            "num_key_value_heads": tc.num_key_value_heads, "hidden_act": tc.hidden_act,
            "max_position_embeddings": tc.max_position_embeddings, "rms_norm_eps": tc.rms_norm_eps,
            "rope_theta": float(theta), "tie_word_embeddings": False, "pretraining_tp": 1, "attention_bias": False,
            "pad_token_id": None, "bos_token_id": 1, "eos_token_id": 2}


def write_exchange(folder: Path, model, inputs_embeds, request: dict[str, Any]) -> None:
    """``weights.safetensors`` (4.x ``LlamaForCausalLM`` names), ``inputs.safetensors``, ``request.json``."""
    from safetensors.torch import save_file

    lm = _language_model(model)
    weights = {f"model.{k}": v.detach().clone().contiguous() for k, v in lm.state_dict().items()}
    weights["lm_head.weight"] = model.lm_head.weight.detach().clone().contiguous()
    save_file(weights, str(folder / "weights.safetensors"))
    save_file({"inputs_embeds": inputs_embeds.detach().clone().contiguous()}, str(folder / "inputs.safetensors"))
    (folder / "request.json").write_text(json.dumps(request, indent=1))


def image_span(model, inputs) -> tuple[int, int]:
    """(start, count) of the image tokens in the (single) prompt row."""
    ids = inputs["input_ids"][0].tolist()
    token = model.config.image_token_index
    start = ids.index(token)
    return start, ids.count(token)


# ----------------------------------------------------------------------------- comparison
def _method_differences(ours: dict, theirs_run: dict, tensors: dict, prefix: str = "") -> dict[str, float]:
    """Largest differences of one official method run (tensors named ``prefix + ...``) against tokzoo's:
    ``lm_head`` input and output, and the tokens entering the layer after every reduction: kept
    tokens that both sides took from the same row, and the tokens the methods made (``-1`` on both
    sides at the same place), separately; rows where the kept tokens differ are not compared."""
    masked = theirs_run.get("mask_reductions") if not theirs_run["reductions"] else None
    if masked:  # attention-mask variant: compare the tokens left visible (a hidden token's own row may differ)
        rows = masked[-1]["visible"]
        a, b = ours["hidden"], tensors[prefix + "hidden"]
        if tuple(a.shape) != tuple(b.shape):
            return {"lm_head input at the visible tokens, method on": float("inf")}
        return {"lm_head input at the visible tokens, method on": max_abs_diff(a[:, rows], b[:, rows]),
                "logits at the visible tokens, method on": max_abs_diff(ours["logits"][:, rows],
                                                                        tensors[prefix + "logits"][:, rows])}
    out = {"lm_head input, method on": max_abs_diff(ours["hidden"], tensors[prefix + "hidden"]),
           "logits, method on": max_abs_diff(ours["logits"], tensors[prefix + "logits"])}
    ours_kept = list(ours.get("kept") or [])
    for e, red in enumerate(theirs_run["reductions"]):
        layer, kept = red["layer"], red["kept"]
        a, b = ours["entering"].get(layer), tensors.get(f"{prefix}entering_layer_{layer}")
        mine = ours_kept[e] if e < len(ours_kept) else None
        if a is None or b is None or mine is None or len(mine) != len(kept) or tuple(a.shape) != tuple(b.shape):
            out[f"tokens entering layer {layer}"] = float("inf")  # no matching reduction on tokzoo's side
            continue
        for label, rows in (("kept", [j for j, (x, y) in enumerate(zip(mine, kept)) if x == y >= 0]),
                            ("new (merged)", [j for j, (x, y) in enumerate(zip(mine, kept)) if x == y == -1])):
            if rows:
                out[f"{label} tokens entering layer {layer}"] = max_abs_diff(a[:, rows], b[:, rows])
    return out


def compare_runs(ours_base: dict, ours: dict, theirs: dict[str, Any], tensors: dict[str, Any]) -> tuple[dict, dict, dict]:
    """``(differences, checks, details)`` of tokzoo's runs against the official driver's result.

    ``ours_base``/``ours``: :func:`baseline_run` / :func:`method_run`; ``theirs``: the driver's
    ``result.json``; ``tensors``: its ``result.safetensors``. Official runs besides ``baseline`` and
    ``method`` (e.g. SparseVLM with its random noise) are compared in ``details`` only."""
    masked = theirs["method"].get("mask_reductions") if not theirs["method"]["reductions"] else None
    if masked:  # attention-mask reductions: the visible keys play the kept indices
        theirs_kept = [m["visible"] for m in masked]
        theirs_layers = [m["layer"] for m in masked]
    else:
        theirs_kept = [r["kept"] for r in theirs["method"]["reductions"]]
        theirs_layers = [r["layer"] for r in theirs["method"]["reductions"]]
    entering = list(theirs["method"]["tokens_entering_layer"])  # sequence lengths (a mask keeps the length)
    base_entering = theirs["baseline"]["tokens_entering_layer"]
    differences = {
        "lm_head input, method off": max_abs_diff(ours_base["hidden"], tensors["baseline_hidden"]),
        "logits, method off": max_abs_diff(ours_base["logits"], tensors["baseline_logits"]),
        **_method_differences(ours, theirs["method"], tensors),
    }
    ours_after = list(ours.get("tokens") or [])
    theirs_after = [*entering[1:], theirs["method"].get("tokens_after_last_layer")]
    checks = {
        "same kept token indices at every reduction": ours.get("kept") == theirs_kept,
        "same tokens after every layer": ours_after == theirs_after,
        "official baseline makes no reduction": not theirs["baseline"]["reductions"]
        and not theirs["baseline"].get("mask_reductions") and len(set(base_entering)) == 1,
    }
    n_diff = [sum((Counter(x) - Counter(y)).values()) for x, y in zip(ours.get("kept") or [], theirs_kept)]
    details = {
        "reductions": [{"before_layer": layer, "tokzoo": k_ours, "official": k_theirs}
                       for layer, k_ours, k_theirs in zip(theirs_layers, ours.get("kept") or [], theirs_kept)],
        "reductions_found": {"tokzoo": len(ours.get("kept") or []), "official": len(theirs_kept)},
        "tokens_kept_by_tokzoo_only_per_reduction": n_diff,
        "tokens_after_layer": {"tokzoo": ours_after, "official": theirs_after,
                               "note": "after layer i = entering layer i + 1 (a reduction between layers counts "
                                       "for the earlier one); the last entry is the output of the last layer"},
        "official_environment": theirs.get("environment"),
        "official_transformers": {"version": theirs.get("transformers"), "file": theirs.get("transformers_file")},
        "official_attention_class": theirs["method"].get("attention_class"),
        "official_buffers_not_from_tokzoo": theirs["method"].get("buffers_not_from_tokzoo"),
        "official_method_run_options": theirs["method"].get("options"),
    }
    extra = [name for name in theirs.get("runs", []) if name not in ("baseline", "method")]
    if extra:
        details["other_official_runs"] = {
            name: {"options": theirs[name].get("options"),
                   "max_abs_diff": _method_differences(ours, theirs[name], tensors, f"{name}_"),
                   "same kept token indices at every reduction": ours.get("kept") == [
                       r["kept"] for r in theirs[name]["reductions"]]}
            for name in extra}
    if masked:
        details["reduction_kind"] = "attention mask (the sequence keeps its length; kept = keys the last query sees)"
        details["every_token_lm_head_input_method_on"] = max_abs_diff(ours["hidden"], tensors["hidden"])
    if theirs.get("official_log"):
        details["official_log"] = theirs["official_log"]
    return differences, checks, details


@dataclass(frozen=True)
class Setup:
    """How one method is compared: tokzoo's attention, the official driver key and its settings."""

    driver: str
    attn: str
    transformers: str  # version prefix the other interpreter must have
    official_settings: Callable[[dict[str, Any], int, int], dict[str, Any]]
    call: str  # what runs on the official side, for the record
    #: float64 only: the tokens a method makes at its first reduction (computed from layer outputs that
    #: agree to float64 rounding) must agree to this bound, a check of its own (tighter than the claim's
    #: tolerance, which a float64 run's later layers cannot meet for reasons of neither implementation)
    first_new_tokens_float64: Optional[float] = None


def compare_llm(reference: Reference, method: str, params: dict[str, Any], dtype: str, setup: Setup, *,
                python: Optional[str] = None, versions: Optional[dict] = None, model: Any = None,
                inputs: Optional[dict] = None, model_label: str = "") -> Measurement:
    """The whole comparison for one method (see the module docstring).

    ``python``: the other interpreter (default: :func:`other_python`); ``model``/``inputs``: a LLaVA
    and its one-row prompt (default: :func:`llava_model`, the claims' model), described by
    ``model_label`` in the record."""
    if python is None:
        python, versions = other_python(reference.name, setup.transformers)
    if model is None:
        model, inputs = llava_model(dtype, setup.attn)
    start, n_img = image_span(model, inputs)
    base = baseline_run(model, inputs)
    ours = method_run(model, inputs, method, params)
    settings = setup.official_settings(params, start, n_img)
    request = {"method": setup.driver, "official": str(reference.path) if reference.path else "", "dtype": dtype,
               "config": llama_config(model), "image_start": start, "image_tokens": n_img, "params": settings,
               "seed": SEED, "attn": setup.attn}
    with tempfile.TemporaryDirectory(prefix="tokzoo-tf4-") as tmp:
        folder = Path(tmp)
        write_exchange(folder, model, base["inputs_embeds"], request)
        theirs, tensors = run_driver(python, folder)
    differences, checks, details = compare_runs(base, ours, theirs, tensors)
    first = [k for k in differences if k.startswith("new (merged) tokens entering layer")][:1]
    if setup.first_new_tokens_float64 is not None and dtype == "float64" and first:
        bound = setup.first_new_tokens_float64
        checks[f"{first[0]} (first reduction) within {bound:g}"] = differences[first[0]] <= bound
    details.update({
        "model": model_label or MODEL_LABEL,
        "prompt": f"BOS + {start - 1} system + {n_img} image + {inputs['input_ids'].shape[1] - start - n_img} question "
                  "tokens (seeded ids and pixels)",
        "tokzoo_attention": setup.attn, "official_settings": settings, "official_call": setup.call,
        "official_python": {"path": python, **(versions or {})},
        "exchange": "inputs_embeds of tokzoo's LLaVA (its text embeddings + projected image features) and the "
                    "language model's weights, through safetensors files",
    })
    return measurement(reference, dtype, differences=differences, kept_equal=checks, details=details)


# ----------------------------------------------------------------------------- the three methods
def _fastv_settings(params: dict[str, Any], start: int, n_img: int) -> dict[str, Any]:
    from zoo.flops import kept_tokens

    keep = params.get("keep_ratio")
    if keep is None and params.get("R") is not None:
        keep = 1 - params["R"]
    return {"agg_layer": int(params.get("k", 2)), "inplace": params.get("variant", "drop") == "drop",
            "attention_rank": kept_tokens(n_img, keep if params.get("keep_tokens") is None else None,
                                          params.get("keep_tokens")),
            "sys_length": start, "image_token_length": n_img}


def _pdrop_settings(params: dict[str, Any], start: int, n_img: int) -> dict[str, Any]:
    layers = list(params.get("layers", (8, 16, 24)))
    lam = params.get("lam")
    if lam is None:
        lam = params["keep_ratio"] ** (1.0 / len(layers))
    return {"layer_list": layers, "image_token_ratio_list": [lam ** s for s in range(1, len(layers) + 1)]}


def _sparsevlm_settings(params: dict[str, Any], start: int, n_img: int) -> dict[str, Any]:
    if tuple(params.get("layers", (2, 6, 15))) != (2, 6, 15) or params.get("schedule") or params.get("keep_ratio"):
        raise ValueError("the official SparseVLM code has fixed layers (2, 6, 15) and the budgets 64/96/128/192")
    if params.get("recycle", True) is not True:
        raise ValueError("the official SparseVLM v1.x code always recycles")
    return {"retain_tokens": int(params.get("tokens", 192)), "pruning_loc": [2, 6, 15], "noise_seeds": [0, 1, 2]}


FASTV = Setup("fastv", "eager", "4.31.", _fastv_settings,
              "src/transformers (4.31 fork) LlamaForCausalLM with config use_fast_v=True, fast_v_inplace, "
              "fast_v_sys_length, fast_v_image_token_length, fast_v_attention_rank, fast_v_agg_layer; "
              "inputs_embeds, output_attentions=True")
PYRAMIDDROP = Setup("pyramiddrop", "sdpa", "4.37.", _pdrop_settings,
                    "llava/model/language_model/llava_llama_pdrop.py LlavaLlamaForCausalLM_PDrop.forward "
                    "(pdrop_forward, pdrop_rank_drop) with model.layer_list, image_token_ratio_list = [1.0, ...], "
                    "image_token_posi, prompt_len, image_tokens; inputs_embeds, SDPA")
SPARSEVLM = Setup("sparsevlm", "sdpa", "4.37.", _sparsevlm_settings,
                  "llava/model/language_model/sparse_llava_llama.py LlavaLlamaDynamicForCausalLM.forward "
                  "(LlamaDynamicvitModel.forward of modelling_sparse_llama.py) with RETAIN_TOKN, image_shape, "
                  "pre_prompt_length_list; inputs_embeds, SDPA, use_cache=True; cluster_and_merge's tie-breaking "
                  "noise zero (official runs with the noise drawn for seeds 0-2 in the details)",
                  first_new_tokens_float64=1e-12)


def fastv(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """pkunlp-icler/FastV's transformers 4.31 fork (``LlamaModel.forward``, inplace token drop)."""
    return compare_llm(reference, "fastv", params, dtype, FASTV)


def pyramiddrop(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """Cooperx521/PyramidDrop ``pdrop_forward`` / ``pdrop_rank_drop`` (transformers 4.37.2)."""
    return compare_llm(reference, "pyramiddrop", params, dtype, PYRAMIDDROP)


def sparsevlm(ctx: Any, reference: Reference, params: dict[str, Any], dtype: str) -> Measurement:
    """Gumpest/SparseVLMs ``LlamaDynamicvitModel.forward`` (transformers 4.37.2, v1.x path)."""
    return compare_llm(reference, "sparsevlm", params, dtype, SPARSEVLM)


__all__ = ["DRIVER", "Setup", "compare_llm", "compare_runs", "fastv", "other_python", "pyramiddrop", "run_driver",
           "sparsevlm", "write_exchange", "python_env_vars"]
