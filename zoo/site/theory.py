"""Theoretical cost of the recorded token schedules, computed with ``zoo.flops`` at build time.

A schedule (``site/data/methods.json``) is what tokzoo's implementation of a method did on a
reference architecture: token counts entering the stage and after every block/layer. Here it
becomes MACs/FLOPs and a theoretical speedup (baseline cost / method cost, same input):

- ``vit`` setups: ``zoo.flops.vit`` fvcore-style MACs (the "GFLOPs" of the ViT papers), the
  whole ViT (patch embedding, blocks, head);
- ``decoder`` setups: ``zoo.flops.llm`` "tokzoo" convention, the LLM prefill only (vision
  tower and projector excluded), tokens entering each decoder layer;
- ``encoder`` setups (text/audio encoders): ``zoo.flops.encoder`` fvcore-style MACs of the
  encoder (input convolutions, every layer's attention on the tokens entering it and its MLP on
  the tokens leaving the reduction), for the shape recorded from the full-width model;
- ``unet`` setups: ``zoo.flops.diffusion`` MACs of the UNet's transformer blocks in one
  denoising step. The diffusion runtime records, per block, the tokens its self-attention
  queries ran on (``after``) and its keys/values (``keys``: shorter with ToDo); every reduction
  is undone after its sub-layer, so cross-attention and feed-forward run on the block's full
  grid (the recorded methods reduce only at the self-attention; the metadata generation refuses
  other placements). ResNet blocks and convolutions are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COST_NOTE = {
    "vit": "fvcore-style GMACs of the whole ViT (the unit ViT papers print as GFLOPs), zoo.flops.vit",
    "decoder": "GFLOPs of the LLM prefill (zoo.flops, tokzoo convention: SwiGLU and GQA counted; "
               "vision tower and projector excluded)",
    "encoder": "fvcore-style GMACs of the whole encoder (zoo.flops.encoder: input convolutions, q/k/v/output "
               "projections, attention products, MLP; norms, softmax and the method's own scoring not counted)",
    "unet": "GMACs of the UNet's transformer blocks in one denoising step (zoo.flops.diffusion: self-attention "
            "on the recorded query and key/value counts, cross-attention to the text tokens and GEGLU "
            "feed-forward on the block's full grid, since every reduction is undone after the self-attention); "
            "ResNet blocks, up/down-sampling convolutions, the method's own matching and DaTo's feature caching "
            "(from step 2 on) not counted, so the whole-UNet speedup is smaller",
}

#: what one step of a setup's token schedule is, and what its token counts are
UNIT = {"vit": "block", "encoder": "layer", "decoder": "layer", "unet": "transformer block"}
TOKENS_NOTE = {
    "vit": "input, then after every block: the whole sequence, CLS included",
    "encoder": "input, then after every layer: the whole sequence, protected prefix tokens ([CLS]) included",
    "decoder": "input, then after every layer: the LLM sequence, image and text tokens",
    "unet": "the latent's tokens at the first level, then the tokens each transformer block's self-attention "
            "queries ran on (each level of the UNet has its own grid, a quarter of the one above; the full grid "
            "goes on after every block)",
}
#: the tokens plot's x-axis label where count k is not "after step k"
TOKENS_AXIS = {"unet": "transformer block (0 = the latent's tokens; k = the queries of block k's self-attention)"}


@dataclass(frozen=True)
class Cost:
    """Baseline and method cost of one recorded schedule (``unit``: GMACs or GFLOPs)."""

    baseline: float
    method: float
    unit: str

    @property
    def speedup(self) -> float:
        return self.baseline / self.method if self.method else float("inf")


def _vit_cost(shape: dict[str, Any], stage: dict[str, Any]) -> Cost:
    from zoo.flops import vit

    fields = dict(shape)
    fields["patch_size"] = tuple(fields["patch_size"])
    s = vit.ViTShape(**fields)
    n0, after = int(stage["input"]), [int(v) for v in stage["after"]]
    base = vit.vit_macs(s, vit.full_schedule(s, n0)).total
    meth = vit.vit_macs(s, vit.schedule_from_counts(n0, after)).total
    return Cost(base / 1e9, meth / 1e9, "GMACs")


def _decoder_cost(shape: dict[str, Any], stage: dict[str, Any]) -> Cost:
    from zoo.flops import DecoderConfig, TokenSchedule, full_schedule, stack_flops

    cfg = DecoderConfig(**shape["decoder"])
    n_other = int(shape.get("n_system", 0)) + int(shape.get("n_question", 0))
    entering = [int(stage["input"]), *[int(v) for v in stage["after"][:-1]]]
    if len(entering) != cfg.num_layers:
        raise ValueError(f"schedule has {len(entering)} layers; the reference model has {cfg.num_layers}")
    method = TokenSchedule(tuple(max(t - n_other, 0) for t in entering), (n_other,) * cfg.num_layers)
    base = full_schedule(cfg.num_layers, int(shape["n_image"]), n_other)
    return Cost(stack_flops(base, cfg, "tokzoo") / 1e9, stack_flops(method, cfg, "tokzoo") / 1e9, "GFLOPs")


def _encoder_cost(shape: dict[str, Any], stage: dict[str, Any]) -> Cost:
    import zoo.flops.encoder as fe
    from zoo.flops.vit import schedule_from_counts

    s = fe.EncoderShape(**shape)
    n0, after = int(stage["input"]), [int(v) for v in stage["after"]]
    if len(after) != s.depth:
        raise ValueError(f"schedule has {len(after)} layers; the reference encoder has {s.depth}")
    full = fe.EncoderShape(**{**shape, "num_tokens": n0})
    base = fe.encoder_macs(full).total
    meth = fe.encoder_macs(full, schedule_from_counts(n0, after)).total
    return Cost(base / 1e9, meth / 1e9, "GMACs")


def _unet_cost(shape: dict[str, Any], stage: dict[str, Any]) -> Cost:
    import zoo.flops.diffusion as fd

    blocks = fd.unet_transformer_blocks(shape["unet"], shape["latent"])
    queries = [int(v) for v in stage["after"]]
    keys = [int(v) for v in stage.get("keys") or queries]
    if not len(queries) == len(keys) == len(blocks):
        raise ValueError(f"schedule has {len(queries)} blocks ({len(keys)} key counts); the reference UNet has "
                         f"{len(blocks)} transformer blocks")
    if int(stage["input"]) != blocks[0].tokens * blocks[0].downsample ** 2:
        raise ValueError(f"schedule starts at {stage['input']} tokens; the reference latent has "
                         f"{blocks[0].tokens * blocks[0].downsample ** 2}")
    text = int(shape.get("text_tokens", 77))
    base = sum(fd.block_macs(b, text_tokens=text)["total"] for b in blocks)
    meth = sum(fd.block_macs(b, q_tokens=q, kv_tokens=k, text_tokens=text)["total"]
               for b, q, k in zip(blocks, queries, keys))
    return Cost(base / 1e9, meth / 1e9, "GMACs")


def cost(setup: dict[str, Any], stages: dict[str, Any]) -> Cost | None:
    """Cost of a recorded schedule on its reference setup (None when the stage was not recorded)."""
    stage = (stages or {}).get(setup.get("stage"))
    if not stage:
        return None
    if setup.get("kind") == "vit":
        return _vit_cost(setup["shape"], stage)
    if setup.get("kind") == "decoder":
        return _decoder_cost(setup["shape"], stage)
    if setup.get("kind") == "encoder":
        return _encoder_cost(setup["shape"], stage)
    if setup.get("kind") == "unet":
        return _unet_cost(setup["shape"], stage)
    return None


@dataclass(frozen=True)
class Point:
    """One budget of one method on one reference setup."""

    method: str
    adapter: str
    x: float
    params: dict[str, Any]
    tokens_after: tuple[int, ...]
    tokens_in: int
    cost: Cost


def budget_points(data: Any) -> list[Point]:
    """Every recorded budget point (methods x setups x budgets) with its computed cost."""
    out = []
    for method_id, per_adapter in sorted((data.schedules or {}).items()):
        for adapter, entry in sorted(per_adapter.items()):
            setup = (data.reference_setups or {}).get(adapter)
            if not setup:
                continue
            for point in entry.get("budgets") or []:
                if "stages" not in point:
                    continue
                c = cost(setup, point["stages"])
                stage = point["stages"].get(setup["stage"]) or {}
                if c is not None:
                    out.append(Point(method_id, adapter, float(point["x"]), dict(point.get("params") or {}),
                                     tuple(stage.get("after") or ()), int(stage.get("input") or 0), c))
    return out


def default_schedule(data: Any, method_id: str, adapter: str) -> tuple[dict[str, Any], Cost | None] | None:
    """The recorded default-parameter schedule of ``method_id`` on ``adapter``'s setup."""
    entry = ((data.schedules or {}).get(method_id) or {}).get(adapter) or {}
    default = entry.get("default") or {}
    setup = (data.reference_setups or {}).get(adapter)
    if "stages" not in default or not setup:
        return None
    stage = default["stages"].get(setup["stage"])
    if not stage:
        return None
    return stage, cost(setup, default["stages"])
