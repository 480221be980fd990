"""Method metadata for the site, as a committed data file (``site/data/methods.json``).

The site needs, for every registered method, its docstrings, parameters (type, declared
default, value when omitted) and paper notation, and for the plots the token schedule the
implementation produces at a few budgets on one reference architecture per adapter. Reading
them needs the model libraries (torch, timm, transformers); a build with only the ``site``
extra reads this file instead. It is written by a maintainer command::

    tokzoo site metadata            # regenerate site/data/methods.json
    tokzoo site metadata --check    # exit 1 when the committed file is not current

and a test checks that the committed file equals a fresh generation.

Schedules are *recorded, not derived*: each comes from running tokzoo's implementation on a
narrow random-weight model with the reference model's depth and token counts (the functions
``vit_implementation_schedule`` / ``llava_implementation_schedule`` of ``zoo.repro.analytic``;
the encoder and UNet models of :mod:`zoo.site.reference_models`); the site computes FLOPs for
them with ``zoo.flops`` at build time. An adapter without a reference setup here gets no
schedule (the pages say so).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

SCHEMA = 1
DATA_FILE = Path("site") / "data" / "methods.json"

#: the method x model support matrix stored in the file: ``zoo.support.support_records`` (one cell per
#: registered method x adapter: runtime, model classes, status yes/depends/no, reason)
SUPPORT_MATRIX_PROVIDER = ("zoo.support", "support_records")


@dataclass(frozen=True)
class ReferenceSetup:
    """One reference architecture on which the site records every method's schedules.

    ``stage``: the ``Run`` stage whose token counts the FLOPs are computed for; ``budgets``:
    ``(parameter, value)`` tried in turn until the method accepts one (a budget the method
    rejects is recorded with the error); ``x``: what the plot's budget axis shows.
    """

    adapter: str
    config: str
    kind: str  # "vit" (zoo.flops.vit MACs), "decoder" (zoo.flops.llm, LLM prefill), "encoder"
    #            (zoo.flops.encoder MACs; config: a zoo.bench.encoder model) or "unet" (zoo.flops.diffusion)
    stage: str
    label: str
    x_label: str
    budgets: tuple[tuple[tuple[str, Any], ...], ...]
    x_values: tuple[float, ...]
    video_frames: int = 0  # > 0: the prompt holds one video of this many frames (LLaVA-OneVision)
    img_size: int = 0  # "unet": the image size in pixels (latent = img_size / the config's vae_scale_factor)
    modality: str = "image"  # what the setup's input is (zoo.vocab.MODALITY): orders a compare page's setups


_VIT_RATIOS = (0.8, 0.6, 0.4, 0.2)
_VLM_TOKENS = (288, 192, 128, 64)
_VIDEO_RATIOS = (0.5, 0.3, 0.2, 0.1)
_VIDEO_FRAMES = 8  # 8 x 196 tokens keeps the 28-layer build quick; the frame count is in the label
_ENCODER_RATIOS = (0.8, 0.6, 0.4, 0.2)
_UNET_RATIOS = (0.75, 0.5, 0.25, 1 / 9)  # ToDo accepts 1/f**2 only: 0.25 (f = 2) and 1/9 (f = 3)

REFERENCE_SETUPS: tuple[ReferenceSetup, ...] = (
    ReferenceSetup(
        adapter="timm-vit", config="deit-small", kind="vit", stage="vit",
        label="DeiT-S, 224 px (197 tokens, 12 blocks)",
        x_label="keep_ratio: fraction of patch tokens left after the last acting block",
        budgets=tuple((("keep_ratio", r),) for r in _VIT_RATIOS),
        x_values=_VIT_RATIOS,
    ),
    ReferenceSetup(
        adapter="llava", config="llava-1.5-7b", kind="decoder", stage="llm",
        label="LLaVA-1.5-7B layout (576 image tokens, 36 system + 40 question tokens, 32 layers)",
        x_label="image-token budget (keep_tokens; keep_ratio = tokens / 576 where keep_tokens is not a parameter)",
        budgets=tuple((("keep_tokens", k), ("keep_ratio", k / 576)) for k in _VLM_TOKENS),
        x_values=_VLM_TOKENS,
    ),
    ReferenceSetup(
        adapter="llava-onevision", config="llava-onevision-7b", kind="decoder", stage="llm", modality="video",
        label=(f"LLaVA-OneVision-7B layout, one video of {_VIDEO_FRAMES} frames x 196 tokens + its newline "
               "(36 system + 40 question tokens, 28 layers)"),
        x_label="budget: keep_ratio of the video tokens (FrameFusion: its token cost; frame subsampling: frames kept)",
        budgets=tuple((("keep_ratio", r), ("cost", r), ("n_frames", max(1, round(r * _VIDEO_FRAMES))))
                      for r in _VIDEO_RATIOS),
        x_values=_VIDEO_RATIOS,
        video_frames=_VIDEO_FRAMES,
    ),
    ReferenceSetup(
        adapter="hf-bert", config="bert-base", kind="encoder", stage="text", modality="text",
        label="BERT-base text encoder (512 tokens, the first kept as [CLS]; 12 layers, width 768)",
        x_label="keep_ratio: fraction of the tokens after [CLS] left after the last acting layer",
        budgets=tuple((("keep_ratio", r),) for r in _ENCODER_RATIOS),
        x_values=_ENCODER_RATIOS,
    ),
    ReferenceSetup(
        adapter="hf-whisper-encoder", config="whisper-base", kind="encoder", stage="audio", modality="audio",
        label="Whisper-base encoder (30 s of audio: 1500 frame tokens, no [CLS]; 6 layers, width 512)",
        x_label="keep_ratio: fraction of the frame tokens left after the last acting layer",
        budgets=tuple((("keep_ratio", r),) for r in _ENCODER_RATIOS),
        x_values=_ENCODER_RATIOS,
    ),
    ReferenceSetup(
        adapter="diffusers-unet", config="sd15-unet", kind="unet", stage="denoiser",
        label="SD 1.5 UNet, 512 px (64 x 64 latent: 4096 tokens at the first level; 16 transformer blocks), one step",
        x_label="keep_ratio: fraction of a reduced block's self-attention tokens kept (ToDo: of its keys/values)",
        budgets=tuple((("keep_ratio", r),) for r in _UNET_RATIOS),
        x_values=_UNET_RATIOS,
        img_size=512,
    ),
)
REFERENCE_PROMPT = {"n_system": 36, "n_question": 40}


def _budgets(setup: ReferenceSetup) -> list[tuple[float, tuple[tuple[str, Any], ...]]]:
    """``(x, alternatives)`` per budget point; each alternative is one ``(parameter, value)``."""
    return list(zip(setup.x_values, setup.budgets))


# ---------------------------------------------------------------- method documentation
def _field_type(f: dataclasses.Field) -> str:
    t = f.type
    return t if isinstance(t, str) else getattr(t, "__name__", None) or str(t)


def method_record(info: Any, cls: type) -> dict[str, Any]:
    """Everything the site shows about one registered method (JSON-ready)."""
    try:
        instance = cls()
        effective = {f.name: repr(getattr(instance, f.name)) for f in dataclasses.fields(instance)}
    except Exception:
        effective = None
    module = sys.modules.get(cls.__module__)
    fields_out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            declared = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            declared = repr(f.default_factory())  # type: ignore[misc]
        else:
            declared = "(required)"
        fields_out[f.name] = {"type": _field_type(f), "default": declared,
                              "effective": None if effective is None else effective.get(f.name)}
    return {
        "id": info.id,
        "arxiv": info.arxiv,
        "families": list(info.families),
        "placement": info.placement,
        "params": dict(info.params),
        "paper_notation": dict(info.paper_notation),
        "summary": info.summary,
        "doc": inspect.cleandoc(cls.__doc__ or ""),
        "module": cls.__module__,
        "class_name": cls.__name__,
        "module_doc": inspect.cleandoc(getattr(module, "__doc__", None) or ""),
        "effective": effective,
        "fields": fields_out,
    }


def method_records() -> dict[str, dict[str, Any]]:
    """Records of every registered method (imports the method modules: needs the model extras)."""
    from zoo.interface import method_class, methods

    return {info.id: method_record(info, method_class(info.id)) for info in methods()}


# ---------------------------------------------------------------- schedules
def _runner(setup: ReferenceSetup) -> Callable[[str, dict], dict]:
    """``run(method_id, params) -> {stage: {"input", "after"}}`` on the setup's narrow random
    model, built once and reused (``zoo.apply`` restores it exactly after every run). The model,
    its seed and its input are those of ``zoo.repro.analytic.vit_implementation_schedule`` /
    ``llava_implementation_schedule``, so the counts are the ones the repro claims record."""
    import torch

    from zoo.repro import loader
    from zoo.repro.harness import methods

    torch.manual_seed(0)
    if setup.kind == "vit":
        from zoo.repro.harness.vit import vit_model

        model = vit_model(setup.config, embed_dim=48, num_heads=3)
        size = loader.load_config(setup.config)["img_size"]
        inputs = {"x": torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))}
        def call():
            return model(inputs["x"])
    elif setup.kind == "encoder":
        from zoo.site.reference_models import encoder_model

        model, call = encoder_model(setup.config)
    elif setup.kind == "unet":
        from zoo.site.reference_models import unet_model

        model, call = unet_model(setup.config, setup.img_size)
    elif setup.video_frames:
        model, inputs = _random_onevision_video(setup)

        def call():
            return model(**inputs, use_cache=False)
    else:
        from zoo.repro.harness.vlm import random_llava, synthetic_prompt

        width = 64
        model = random_llava(setup.config, device="cpu", dtype="float32", hidden_size=width,
                             intermediate_size=2 * width, num_attention_heads=4, num_key_value_heads=4,
                             narrow_vision=True)
        inputs = synthetic_prompt(model, device="cpu", seed=0, **REFERENCE_PROMPT)
        def call():
            return model(**inputs, use_cache=False)

    def run(method_id: str, params: dict) -> dict:
        methods.require_method(method_id)
        with methods.apply(model, method_id, params) as handle, torch.inference_mode():
            call()
            record = handle.run
            out = {stage: {"input": int(record.input_tokens[stage]), "after": [int(v) for v in counts]}
                   for stage, counts in sorted(record.tokens.items())}
            if setup.kind == "unet" and setup.stage in out:
                from zoo.site.reference_models import unet_keys

                out[setup.stage]["keys"] = unet_keys(handle, setup.stage)
            return out
    return run


def _random_onevision_video(setup: ReferenceSetup) -> tuple[Any, dict[str, Any]]:
    """A narrow random LLaVA-OneVision with the reference's depths and vision geometry (384 px,
    14 px patches: 27 x 27 per frame, pooled to 14 x 14 = 196) and one video prompt
    ``system (BOS included) + <frames x 196 + newline> + question``, as the image setup counts."""
    import torch
    import transformers as tf

    from zoo.repro import loader

    ref = loader.load_config(setup.config)
    v, t = ref["vision_config"], ref["text_config"]
    vision = tf.SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                   image_size=v["image_size"], patch_size=v["patch_size"])
    text = tf.Qwen2Config(vocab_size=128, hidden_size=64, intermediate_size=128,
                          num_hidden_layers=t["num_hidden_layers"], num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=8192)
    video_id = 6
    torch.manual_seed(0)
    model = tf.LlavaOnevisionForConditionalGeneration(tf.LlavaOnevisionConfig(
        vision_config=vision, text_config=text, image_token_index=5, video_token_index=video_id,
        vision_feature_layer=-1, vision_feature_select_strategy="full")).eval()
    n_video = setup.video_frames * ref["video_tokens_per_frame"] + 1
    g = torch.Generator().manual_seed(0)
    n_sys, n_q = REFERENCE_PROMPT["n_system"], REFERENCE_PROMPT["n_question"]
    ids = torch.randint(10, 128, (1, n_sys + n_video + n_q), generator=g)
    ids[0, n_sys:n_sys + n_video] = video_id
    video = torch.randn(1, setup.video_frames, 3, v["image_size"], v["image_size"], generator=g)
    return model, {"input_ids": ids, "pixel_values_videos": video}


def _shape(setup: ReferenceSetup) -> dict[str, Any]:
    """The reference model's shape as zoo.flops needs it (from ``repro/configs``)."""
    from zoo.repro import analytic, loader

    if setup.kind == "vit":
        shape = dataclasses.asdict(analytic.vit_shape(setup.config))
        shape["patch_size"] = list(shape["patch_size"])
        return shape
    if setup.kind == "encoder":
        from zoo.site.reference_models import encoder_shape

        return encoder_shape(setup.config)
    if setup.kind == "unet":
        from zoo.site.reference_models import unet_shape

        return unet_shape(setup.config, setup.img_size)
    cfg = dataclasses.asdict(analytic.decoder(setup.config))
    if setup.video_frames:
        per_frame = loader.load_config(setup.config)["video_tokens_per_frame"]
        n_visual = setup.video_frames * per_frame + 1  # OneVision ends a video with one newline token
        return {"decoder": cfg, "n_image": n_visual, **REFERENCE_PROMPT}
    return {"decoder": cfg, "n_image": analytic.image_tokens(setup.config), **REFERENCE_PROMPT}


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def method_schedules(method_id: str, families: list[str], runners: dict[str, Callable],
                     setups=REFERENCE_SETUPS) -> dict[str, Any]:
    """``adapter -> {"default": ..., "budgets": [...]}`` for the adapters with a reference setup."""
    out: dict[str, Any] = {}
    for setup in setups:
        if setup.adapter not in families:
            continue
        if setup.adapter not in runners:
            runners[setup.adapter] = _runner(setup)
        run = runners[setup.adapter]
        entry: dict[str, Any] = {}
        try:
            entry["default"] = {"params": {}, "stages": run(method_id, {})}
        except Exception as exc:  # a method needing a parameter, or one the setup cannot run
            entry["default"] = {"params": {}, "error": _error(exc)}
        points = []
        for x, alternatives in _budgets(setup):
            point: dict[str, Any] = {"x": x}
            errors = []
            for name, value in alternatives:
                try:
                    point["stages"] = run(method_id, {name: value})
                    point["params"] = {name: value}
                    break
                except Exception as exc:
                    errors.append(f"{name}={value:g}: {_error(exc)}")
            if "stages" not in point:
                point["error"] = "; ".join(errors)
            points.append(point)
        entry["budgets"] = points
        out[setup.adapter] = entry
    return out


def support_matrix() -> list[dict[str, Any]]:
    """The uniform method x model support matrix (:func:`zoo.support.support_records`), JSON-ready."""
    import importlib

    module_name, attr = SUPPORT_MATRIX_PROVIDER
    provider = getattr(importlib.import_module(module_name), attr)
    return json.loads(json.dumps(provider(), default=str))


def generate() -> dict[str, Any]:
    """A fresh metadata document (runs every method on the reference setups, one thread)."""
    import torch

    records = method_records()
    setups = {}
    for setup in REFERENCE_SETUPS:
        setups[setup.adapter] = {
            "config": setup.config, "kind": setup.kind, "stage": setup.stage, "label": setup.label,
            "x_label": setup.x_label, "modality": setup.modality, "shape": _shape(setup),
        }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: one thread is fastest, and a busy machine does not spin
    try:
        runners: dict[str, Callable] = {}
        schedules = {mid: method_schedules(mid, rec["families"], runners) for mid, rec in sorted(records.items())}
    finally:
        torch.set_num_threads(threads)
    return {
        "schema": SCHEMA,
        "generated_by": "tokzoo site metadata",
        "note": "generated file: do not edit; regenerate with `tokzoo site metadata`",
        "methods": dict(sorted(records.items())),
        "reference_setups": setups,
        "schedules": schedules,
        "support_matrix": support_matrix(),
    }


_NUMBER_LIST = re.compile(r"\[(?:\s*-?[0-9.e+-]+\s*,)*\s*-?[0-9.e+-]+\s*\]")


def dumps(doc: dict[str, Any]) -> str:
    """Stable JSON text (sorted keys; lists of numbers on one line, so schedules stay readable)."""
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(0)[1:-1].split(",")) + "]", text) + "\n"


def data_path(root: Path) -> Path:
    return Path(root) / DATA_FILE


def write(root: Path) -> Path:
    path = data_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(dumps(generate()), encoding="utf-8")
    tmp.replace(path)
    return path


def load(root: Path) -> dict[str, Any] | None:
    """The committed metadata of the checkout at ``root`` (None when the file is missing)."""
    path = data_path(root)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); regenerate it with `tokzoo site metadata`") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: unknown schema {doc.get('schema') if isinstance(doc, dict) else doc!r}; "
                         "regenerate it with `tokzoo site metadata`")
    return doc


def stale_parts(committed: dict[str, Any] | None, fresh: dict[str, Any]) -> list[str]:
    """What differs between the committed file and a fresh generation (empty when current)."""
    if committed is None:
        return ["the file is missing"]
    out = []
    for key in sorted(set(committed) | set(fresh)):
        if key in ("methods", "schedules"):
            a, b = committed.get(key) or {}, fresh.get(key) or {}
            for mid in sorted(set(a) | set(b)):
                if a.get(mid) != b.get(mid):
                    out.append(f"{key}.{mid}")
        elif committed.get(key) != fresh.get(key):
            out.append(key)
    return out


@dataclass
class MethodMetadata:
    """The metadata a build uses, and where it came from (``live`` or the data file)."""

    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference_setups: dict[str, Any] = field(default_factory=dict)
    schedules: dict[str, Any] = field(default_factory=dict)
    support_matrix: Any = None
    source: str = ""
