"""HF LLaVA measurements: prefill latency on the exact architecture, benchmark scores.

- Latency/memory do not depend on weight values for fixed-budget methods: they run on a
  randomly initialised ``LlavaForConditionalGeneration`` built from
  ``repro/configs/<name>.json`` (labelled "random weights"); baseline and method alternate in
  the same process (:func:`zoo.repro.harness.speed.paired_timing`).
- Scores go through lmms-eval (the field's usual harness; optional extra ``tokzoo[eval]``)
  with the method applied to the loaded model (:func:`lmms_eval_score`), or through the
  minimal evaluator here (:func:`evaluate`) on a local JSONL dataset or a Hugging Face
  dataset: greedy generation, then a scorer (``yes_no``, ``choice``, ``contains``).
  Under ``accelerate launch`` the examples are sharded with accelerate and the per-example
  results gathered.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from zoo.repro import loader
from zoo.repro.harness import methods
from zoo.repro.harness.speed import busy_verdict, paired_timing
from zoo.repro.spec import Measurement, Unavailable

LLAVA_IMAGE_TOKEN = 32000  # llava-hf checkpoints put <image> after the 32000 Llama tokens


def _dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


# ------------------------------------------------------------------ random-weight latency
def llava_config(config_name: str, *, narrow_vision: bool = False, **text_overrides: Any):
    """A ``transformers.LlavaConfig`` with the exact shapes of ``repro/configs/<config_name>.json``.

    ``text_overrides`` change LLM fields (tests and schedule checks shrink the width);
    ``narrow_vision`` shrinks the vision tower's width but keeps its depth, image and patch size.
    """
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    cfg = loader.load_config(config_name)
    text = {k: v for k, v in cfg["text_config"].items() if k != "model_type"}
    text.update(text_overrides)
    vision = {k: v for k, v in cfg["vision_config"].items() if k != "model_type"}
    if narrow_vision:
        vision.update(hidden_size=32, intermediate_size=64, num_attention_heads=4)
    n_img = (vision["image_size"] // vision["patch_size"]) ** 2
    return LlavaConfig(vision_config=CLIPVisionConfig(**vision), text_config=LlamaConfig(**text),
                       image_token_index=LLAVA_IMAGE_TOKEN, image_seq_length=n_img,
                       vision_feature_layer=cfg.get("vision_select_layer", -2),
                       vision_feature_select_strategy="default", projector_hidden_act="gelu")


def random_llava(config_name: str, *, device: str = "cpu", dtype: str = "float16", attn: str = "sdpa",
                 narrow_vision: bool = False, **text_overrides: Any):
    """A randomly initialised LLaVA of the exact architecture, built directly on ``device``."""
    import torch
    from transformers import LlavaForConditionalGeneration

    config = llava_config(config_name, narrow_vision=narrow_vision, **text_overrides)
    config.text_config.vocab_size = max(config.text_config.vocab_size, LLAVA_IMAGE_TOKEN + 64)
    config._attn_implementation = attn
    previous = torch.get_default_dtype()
    torch.set_default_dtype(_dtype(dtype))
    try:
        with torch.device(device):
            model = LlavaForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def synthetic_prompt(model: Any, *, n_system: int, n_question: int, device: str, seed: int = 0) -> dict[str, Any]:
    """``BOS + n_system text + <image>*n + n_question text`` ids and a random image (one row)."""
    import torch

    cfg = model.config
    n_img = cfg.image_seq_length
    g = torch.Generator().manual_seed(seed)
    vocab = cfg.text_config.vocab_size
    low, high = (100, min(30000, vocab)) if vocab > 200 else (10, vocab)  # ordinary ids: no special tokens

    def text(n: int):
        ids = torch.randint(low, high, (n,), generator=g)
        return torch.where(ids == cfg.image_token_index, torch.full_like(ids, low), ids)

    ids = torch.cat([torch.tensor([1]), text(n_system - 1), torch.full((n_img,), cfg.image_token_index),
                     text(n_question)])[None]
    size = cfg.vision_config.image_size
    pixels = torch.randn(1, 3, size, size, generator=g)
    dtype = next(model.parameters()).dtype
    return {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device),
            "pixel_values": pixels.to(device=device, dtype=dtype)}


def prefill_latency(ctx: Any, config_name: str, method_id: str, params: dict[str, Any], *, n_system: int = 36,
                    n_question: int = 40, repeats: int = 10, dtype: str = "float16", model: Any = None) -> Measurement:
    """Latency ratio (method / baseline) of one prefill forward, random weights, same run.

    The value is ``min t_method / min t_baseline`` over alternating pairs (wall time, < 1 is
    faster); details hold the CPU-time ratio, the medians, the load average and the LLM token
    schedule. On a busy machine the measurement is ``inconclusive`` unless wall and CPU time
    both reproduce the claim.
    """
    import torch

    methods.require_method(method_id)
    device = ctx.device
    model = model if model is not None else random_llava(config_name, device=device, dtype=dtype)
    inputs = synthetic_prompt(model, n_system=n_system, n_question=n_question, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    state: dict[str, Any] = {}

    def base():
        with torch.inference_mode():
            model(**inputs, use_cache=False)

    def meth():
        with methods.apply(model, method_id, params) as h, torch.inference_mode():
            model(**inputs, use_cache=False)
            state["schedule"] = {k: list(v) for k, v in getattr(h.run, "tokens", {}).items()}

    timing = paired_timing(base, meth, repeats=repeats, warmup=2, sync=sync, progress=ctx.progress)
    details = {"model": config_name, "weights": "random (latency does not depend on weight values)",
               "device": device, "dtype": dtype, "n_system": n_system, "n_question": n_question,
               "image_tokens": model.config.image_seq_length, "token_schedule": state.get("schedule", {}), **timing}
    if device.startswith("cuda"):
        details["gpu"] = torch.cuda.get_device_name(0)
    label = f"random weights, {device}, {dtype}" + (", machine busy" if timing["busy_machine"] else "")
    why = busy_verdict(ctx.claim, timing, wall_value=timing["ratio"], cpu_value=timing["cpu_ratio"])
    return Measurement(timing["ratio"], details=details, params=dict(params), label=label, inconclusive=why)


# ------------------------------------------------------------------ lmms-eval
def lmms_llava(ctx: Any, hub_id: str):
    """lmms-eval's ``llava_hf`` model wrapper for ``hub_id`` (or the local path given for it)."""
    methods.require_package("lmms_eval", "eval")
    try:  # lmms-eval >= 0.4 keeps the plain HF wrappers under models.simple
        from lmms_eval.models.simple.llava_hf import LlavaHf
    except ImportError:
        from lmms_eval.models.llava_hf import LlavaHf

    return LlavaHf(pretrained=ctx.weights_path(hub_id), device=ctx.device, dtype="float16")


def lmms_eval_score(ctx: Any, hub_id: str, task: str, metric: str, method_id: str, params: dict[str, Any], *,
                    control_params: Optional[dict[str, Any]] = None, lm: Any = None) -> Measurement:
    """Score of ``task`` with lmms-eval's ``llava_hf`` model: baseline, method, random control in one run.

    ``metric`` is the lmms-eval metric name (e.g. ``"mme_percetion_score"``, lmms-eval's own
    spelling); the value is the method's score. Pass ``lm`` to reuse a loaded model.
    """
    methods.require_method(method_id)
    methods.require_package("lmms_eval", "eval")
    from lmms_eval import evaluator

    lm = lm if lm is not None else lmms_llava(ctx, hub_id)

    def score() -> float:
        out = evaluator.simple_evaluate(model=lm, tasks=[task], limit=ctx.options.limit, batch_size=1)
        if out is None:  # non-main processes
            return float("nan")
        results = out["results"][task]
        for key, value in results.items():
            if key.split(",")[0] == metric:
                return float(value)
        raise KeyError(f"lmms-eval task {task!r} has no metric {metric!r}; metrics: {sorted(results)}")

    ctx.progress(f"{task}: baseline")
    baseline = score()
    ctx.progress(f"{task}: method")
    with methods.apply(lm.model, method_id, params):
        value = score()
    handle, note = methods.control(lm.model, control_params)
    control = None
    if handle is not None:
        ctx.progress(f"{task}: random control")
        with handle:
            control = score()
    details = {"harness": "lmms-eval", "task": task, "metric": metric, "model": hub_id, "baseline": baseline,
               "method": value, "control": control, "control_note": note or {"params": control_params},
               "limit": ctx.options.limit}
    return Measurement(value, details=details, params=dict(params), label="lmms-eval" + (" (limited)" if ctx.options.limit else ""))


def relative_performance(ctx: Any, hub_id: str, tasks: list[tuple[str, str]], method_id: str,
                         params: dict[str, Any], *, control_params: Optional[dict[str, Any]] = None) -> Measurement:
    """Mean over ``(task, metric)`` of 100 · method score / baseline score (lmms-eval, one loaded model)."""
    lm = lmms_llava(ctx, hub_id)
    per_task = {}
    for task, metric in tasks:
        m = lmms_eval_score(ctx, hub_id, task, metric, method_id, params, control_params=control_params, lm=lm)
        per_task[task] = {k: m.details[k] for k in ("metric", "baseline", "method", "control")}
    rel = [100.0 * v["method"] / v["baseline"] for v in per_task.values() if v["baseline"]]
    value = sum(rel) / len(rel)
    return Measurement(value, details={"harness": "lmms-eval", "per_task": per_task, "model": hub_id,
                                       "limit": ctx.options.limit}, params=dict(params), label="lmms-eval")


# ------------------------------------------------------------------ minimal evaluator
def load_examples(ctx: Any, name: str, split: str = "test") -> list[dict[str, Any]]:
    """Examples of dataset ``name``: a local folder with ``examples.jsonl`` (image paths relative
    to it), or a Hugging Face dataset id (``datasets`` must be installed)."""
    path = ctx.data_path(name)
    if path:
        folder = Path(path)
        rows = []
        for line in (folder / "examples.jsonl").read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                row["image"] = str(folder / row["image"])
                rows.append(row)
        return rows
    datasets = methods.require_package("datasets", "eval")
    return list(datasets.load_dataset(name, split=split))


def _shard(items: list[Any]) -> list[Any]:
    try:
        from accelerate import PartialState
    except ImportError:
        return items
    state = PartialState()
    return items[state.process_index::state.num_processes] if state.num_processes > 1 else items


def _gather(items: list[Any]) -> list[Any]:
    try:
        from accelerate import PartialState
        from accelerate.utils import gather_object
    except ImportError:
        return items
    return gather_object(items) if PartialState().num_processes > 1 else items


def score_yes_no(prediction: str, example: dict[str, Any]) -> bool:
    words = prediction.strip().lower().replace(".", " ").replace(",", " ").split()
    return bool(words) and words[0] == str(example["answer"]).strip().lower()


def score_choice(prediction: str, example: dict[str, Any]) -> bool:
    letter = "ABCDEFGH"[int(example["correct_choice_idx"])]
    return prediction.strip().upper().startswith(letter)


def score_contains(prediction: str, example: dict[str, Any]) -> bool:
    return str(example["answer"]).strip().lower() in prediction.lower()


SCORERS: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "yes_no": score_yes_no, "choice": score_choice, "contains": score_contains,
}


def question_text(example: dict[str, Any]) -> str:
    """The question, with lettered options for multiple-choice examples."""
    q = str(example["question"])
    if example.get("choices"):
        opts = "\n".join(f"{'ABCDEFGH'[i]}. {c}" for i, c in enumerate(example["choices"]))
        q = f"{q}\n{opts}\nAnswer with the option's letter from the given choices directly."
    return q


def evaluate(model: Any, processor: Any, examples: Iterable[dict[str, Any]], scorer: str, *,
             apply: Optional[Callable[[], Any]] = None, max_new_tokens: int = 8,
             progress: Optional[Callable[[str], None]] = None) -> list[dict[str, Any]]:
    """Greedy answers for ``examples`` (sharded under accelerate) with the method from ``apply()``.

    Returns one ``{"id", "correct", "prediction", "category"}`` per example (gathered).
    """
    import torch
    from PIL import Image

    check = SCORERS[scorer]
    rows = _shard(list(examples))
    out = []
    device = next(model.parameters()).device
    for i, ex in enumerate(rows):
        if progress:
            progress(f"example {i + 1}/{len(rows)}")
        image = ex["image"] if not isinstance(ex["image"], str) else Image.open(ex["image"])
        prompt = f"USER: <image>\n{question_text(ex)} ASSISTANT:"
        inputs = processor(images=image.convert("RGB"), text=prompt, return_tensors="pt").to(device)
        inputs["pixel_values"] = inputs["pixel_values"].to(next(model.parameters()).dtype)
        handle = apply() if apply else None
        try:
            with torch.inference_mode():
                # the image placeholder is never a valid answer token (a random test model may pick it)
                ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                     suppress_tokens=[model.config.image_token_index])
        finally:
            if handle is not None:
                handle.remove()
        text = processor.tokenizer.decode(ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        out.append({"id": ex.get("question_id", ex.get("id", i)), "correct": bool(check(text, ex)),
                    "prediction": text, "category": ex.get("category")})
    return _gather(out)


def accuracy(results: list[dict[str, Any]]) -> float:
    return 100.0 * sum(r["correct"] for r in results) / max(len(results), 1)


MME_PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
                  "artwork", "OCR")


def mme_perception(results: list[dict[str, Any]]) -> float:
    """MME perception score: per category 100·(accuracy + accuracy+), summed over the 10 categories.

    accuracy+ counts an image as correct only when both of its questions are (MME's metric);
    the image is identified by the example id (MME's ``question_id`` is the image file).
    """
    total = 0.0
    for cat in MME_PERCEPTION:
        rows = [r for r in results if r["category"] == cat]
        if not rows:
            continue
        per_image: dict[Any, list[bool]] = {}
        for r in rows:
            per_image.setdefault(r["id"], []).append(r["correct"])
        acc = sum(r["correct"] for r in rows) / len(rows)
        acc_plus = sum(all(v) for v in per_image.values()) / len(per_image)
        total += 100.0 * (acc + acc_plus)
    return total


AGGREGATES: dict[str, Callable[[list[dict[str, Any]]], float]] = {"accuracy": accuracy, "mme_perception": mme_perception}


def load_llava(ctx: Any, hub_id: str, *, dtype: str = "float16"):
    """``LlavaForConditionalGeneration`` + ``AutoProcessor`` from a hub id or the local path given for it."""
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    path = ctx.weights_path(hub_id)
    model = LlavaForConditionalGeneration.from_pretrained(path, dtype=_dtype(dtype), attn_implementation="sdpa")
    return model.to(ctx.device).eval(), AutoProcessor.from_pretrained(path)


def benchmark(ctx: Any, hub_id: str, dataset: str, method_id: str, params: dict[str, Any], *, scorer: str,
              aggregate: str = "accuracy", split: str = "test", control_params: Optional[dict[str, Any]] = None,
              dtype: str = "float16", model: Any = None, processor: Any = None) -> Measurement:
    """Minimal evaluator: baseline, method and random control on the same examples, same run."""
    methods.require_method(method_id)
    if model is None:
        model, processor = load_llava(ctx, hub_id, dtype=dtype)
    examples = load_examples(ctx, dataset, split)
    if ctx.options.limit:
        examples = examples[: int(ctx.options.limit)]
    agg = AGGREGATES[aggregate]
    base = evaluate(model, processor, examples, scorer, progress=ctx.progress)
    meth = evaluate(model, processor, examples, scorer, apply=lambda: methods.apply(model, method_id, params),
                    progress=ctx.progress)
    control_value, note = None, ""
    probe, note = methods.control(model, control_params)
    if probe is not None:
        probe.remove()
        ctrl = evaluate(model, processor, examples, scorer, apply=lambda: methods.control(model, control_params)[0],
                        progress=ctx.progress)
        control_value = agg(ctrl)
    details = {"harness": "tokzoo minimal evaluator", "dataset": dataset, "split": split, "scorer": scorer,
               "aggregate": aggregate, "examples": len(base), "baseline": agg(base), "method": agg(meth),
               "control": control_value, "control_note": note or {"params": control_params}, "model": hub_id,
               "limit": ctx.options.limit}
    return Measurement(agg(meth), details=details, params=dict(params),
                       label="minimal evaluator" + (" (limited)" if ctx.options.limit else ""))


__all__ = ["llava_config", "random_llava", "synthetic_prompt", "prefill_latency", "lmms_llava", "lmms_eval_score",
           "relative_performance", "load_examples",
           "evaluate", "accuracy", "mme_perception", "load_llava", "benchmark", "SCORERS", "Unavailable"]
