"""Image-quality claims of the diffusion papers: FID and CLIP score of generated images, with the
unreduced model and the random control generated from the same prompts and seeds in the same run.

Data layout (``--data-dir <name>=PATH`` or ``TOKZOO_DATA_<NAME>``): a folder with ``prompts.txt``
(one prompt per line; e.g. ImageNet-1k class prompts as the ToMeSD README, or COCO captions) and,
for FID, ``images/`` holding the reference images. Weights: a diffusers pipeline id or folder
(``--weights <hub id>=PATH``). The metric networks come from ``torchmetrics`` (FID: Inception-v3 of
``torch-fidelity``; CLIP score: a CLIP model id, default ``openai/clip-vit-large-patch14``): both
download their weights on first use. On this project's CPU-only machines these claims are
skipped by their needs (``cuda``, weights, dataset); the generation and bookkeeping here are tested
on the tiny local pipeline with a stand-in metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zoo.repro.spec import Measurement, Unavailable


def read_prompts(root: str | Path, limit: int | None = None) -> list[str]:
    path = Path(root) / "prompts.txt"
    if not path.is_file():
        raise Unavailable(f"prompts file {path} (one prompt per line)")
    prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return prompts[:limit] if limit else prompts


def generate(pipe: Any, prompts: list[str], *, steps: int, guidance: float, seed: int, batch: int = 4,
             height: int | None = None, width: int | None = None, progress: Callable[[str], None] | None = None):
    """Images ``[N, 3, H, W]`` in ``[0, 1]`` (float32, CPU); prompt ``i`` uses the generator seed ``seed + i``."""
    import torch

    out = []
    for start in range(0, len(prompts), batch):
        chunk = prompts[start:start + batch]
        if progress:
            progress(f"images {start + 1}-{start + len(chunk)} of {len(prompts)}")
        gens = [torch.Generator(device="cpu").manual_seed(seed + start + i) for i in range(len(chunk))]
        images = pipe(chunk, num_inference_steps=steps, guidance_scale=guidance, generator=gens, height=height,
                      width=width, output_type="pt").images
        out.append(images.float().cpu())
    return torch.cat(out)


def compare_generations(pipe: Any, prompts: list[str], method_id: str, params: dict[str, Any],
                        metric: Callable[[Any, list[str]], float], *, control_params: dict[str, Any] | None = None,
                        steps: int = 50, guidance: float = 7.5, seed: int = 0, batch: int = 4,
                        img_size: int | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``metric(images, prompts)`` for the model, the method and the random control on the same prompts and seeds."""
    import zoo

    kw = dict(steps=steps, guidance=guidance, seed=seed, batch=batch, height=img_size, width=img_size,
              progress=progress)
    out: dict[str, Any] = {"baseline": metric(generate(pipe, prompts, **kw), prompts)}
    with zoo.apply(pipe, method_id, **params):
        out["method"] = metric(generate(pipe, prompts, **kw), prompts)
    if control_params is not None:
        with zoo.apply(pipe, "random", **control_params):
            out["control"] = metric(generate(pipe, prompts, **kw), prompts)
    out["images"] = len(prompts)
    return out


def fid_metric(reference_dir: str | Path, device: str):
    """``metric(images, prompts)``: FID of generated images against the reference images (torchmetrics)."""
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
    except ImportError:
        raise Unavailable("package torchmetrics[image] (FID)") from None
    import torch
    from PIL import Image

    files = sorted(p for p in Path(reference_dir).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        raise Unavailable(f"reference images under {reference_dir}")

    def metric(images, prompts):
        fid = FrechetInceptionDistance(normalize=True).to(device)
        for start in range(0, len(files), 32):
            batch = [torch.from_numpy(__import__("numpy").asarray(Image.open(f).convert("RGB").resize((299, 299))))
                     .permute(2, 0, 1).float() / 255 for f in files[start:start + 32]]
            fid.update(torch.stack(batch).to(device), real=True)
        for start in range(0, len(images), 32):
            fid.update(images[start:start + 32].to(device), real=False)
        return float(fid.compute())

    return metric


def clip_metric(model_id: str, device: str):
    """``metric(images, prompts)``: mean CLIP score (100 * max(cos, 0)) of images and their prompts (torchmetrics)."""
    try:
        from torchmetrics.multimodal.clip_score import CLIPScore
    except ImportError:
        raise Unavailable("package torchmetrics[multimodal] (CLIP score)") from None

    def metric(images, prompts):
        score = CLIPScore(model_name_or_path=model_id).to(device)
        for start in range(0, len(images), 32):
            score.update((images[start:start + 32] * 255).round().to(device), prompts[start:start + 32])
        return float(score.compute())

    return metric


def quality(kind: str, method_id: str, params: dict[str, Any], *, weights: str, data: str, n_images: int,
            steps: int = 50, guidance: float = 7.5, img_size: int = 512, control_params: dict[str, Any] | None = None,
            clip_model: str = "openai/clip-vit-large-patch14", report: str = "method"):
    """A measure function: FID (``kind="fid"``) or CLIP score (``"clip"``) of ``method_id`` on a real pipeline.

    ``report``: ``"method"`` (the method's value) or ``"delta"`` (method minus baseline).
    """
    if kind not in ("fid", "clip") or report not in ("method", "delta"):
        raise ValueError(f"quality: kind={kind!r} (fid, clip), report={report!r} (method, delta)")

    def measure(ctx) -> Measurement:
        import torch

        from zoo.repro.harness import methods

        methods.require_package("diffusers", "diffusion")
        from diffusers import DiffusionPipeline

        root = ctx.data_path(data)
        if not root:
            raise Unavailable(f"dataset {data} (--data-dir {data}=PATH: prompts.txt and images/)")
        prompts = read_prompts(root, ctx.options.limit or n_images)
        dtype = torch.float16 if str(ctx.device).startswith("cuda") else torch.float32
        pipe = DiffusionPipeline.from_pretrained(ctx.weights_path(weights), torch_dtype=dtype).to(ctx.device)
        pipe.set_progress_bar_config(disable=True)
        metric = fid_metric(Path(root) / "images", ctx.device) if kind == "fid" else clip_metric(clip_model, ctx.device)
        res = compare_generations(pipe, prompts, method_id, params, metric, control_params=control_params,
                                  steps=steps, guidance=guidance, img_size=img_size, progress=ctx.progress)
        value = res["method"] if report == "method" else res["method"] - res["baseline"]
        details = {"baseline": res["baseline"], "method": res["method"], "control": res.get("control"),
                   "control_params": control_params, "images": res["images"], "steps": steps,
                   "guidance": guidance, "img_size": img_size, "weights": weights, "metric": kind}
        label = "pretrained weights" + (f", first {ctx.options.limit} prompts only" if ctx.options.limit else "")
        return Measurement(value, details=details, params=dict(params), label=label)

    return measure


def pipeline_speedup(method_id: str, params: dict[str, Any], *, weights: str, prompts: list[str], steps: int = 50,
                     guidance: float = 7.5, img_size: int = 512, repeats: int = 3):
    """A measure function: time per image of a real pipeline with and without ``method_id`` (same prompts and
    seeds, alternating). For adaptive methods (CA-ToMe) the merged counts depend on the trained features, so
    random weights would not do."""

    def measure(ctx) -> Measurement:
        import torch

        import zoo
        from zoo.repro.harness import methods
        from zoo.repro.harness.speed import paired_timing

        methods.require_package("diffusers", "diffusion")
        from diffusers import DiffusionPipeline

        dtype = torch.float16 if str(ctx.device).startswith("cuda") else torch.float32
        pipe = DiffusionPipeline.from_pretrained(ctx.weights_path(weights), torch_dtype=dtype).to(ctx.device)
        pipe.set_progress_bar_config(disable=True)
        kw = dict(steps=steps, guidance=guidance, seed=0, batch=len(prompts), height=img_size, width=img_size)
        state: dict[str, Any] = {}

        def meth():
            with zoo.apply(pipe, method_id, **params) as h:
                generate(pipe, prompts, **kw)
                state["table"] = [dict(r) for r in h.adapter.runtime.table]

        sync = torch.cuda.synchronize if str(ctx.device).startswith("cuda") else None
        timing = paired_timing(lambda: generate(pipe, prompts, **kw), meth, repeats=repeats, warmup=1, sync=sync,
                               progress=ctx.progress)
        details = {"weights": weights, "prompts": prompts, "steps": steps, "img_size": img_size,
                   "device": ctx.device, "last_step_blocks": state.get("table", []),
                   **{k: v for k, v in timing.items() if k != "speedup"}}
        return Measurement(timing["speedup"], details=details, params=dict(params), label="pretrained weights")

    return measure
