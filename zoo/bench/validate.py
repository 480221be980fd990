"""Checks of ``tokzoo bench``'s arguments before any model is built.

Every check raises :class:`BenchArgumentError` naming the option, the value and what is
allowed, so that the CLI prints one line and exits with code 2 instead of a traceback after
seconds (or minutes) of model building and timing. :func:`check_bench_args` runs them all and
returns the family to benchmark.

What is checked, per family of ``zoo.bench.BENCHES``:

- ``--model``: a timm model name (``timm.is_model``) that builds a ViT (a patch embedding;
  built on the ``meta`` device, so no weights are allocated) for ``timm-vit``; a name of
  ``zoo.bench.vlm.CONFIGS`` (decoders), ``zoo.bench.video.CONFIGS`` (LLaVA-OneVision video),
  ``zoo.bench.encoder.CONFIGS`` (encoders) or ``zoo.bench.diffusion.MODELS`` (diffusers UNet)
  whose model the method supports;
- ``--img-size``: positive, a multiple of the patch size (ViTs), of 64 (SD UNet: the VAE's 8x
  and three downsamplings), and refused where the bench fixes the input (decoders, video, text
  and audio encoders);
- ``--seq-len``: text encoders only, at most their positions; ``--batch-size``: 1 for video;
- ``--steps``: the diffusers-unet bench only, an integer in 2..1000 (a denoising loop), with batch 2;
- ``--dtype``, ``--device`` (``cuda`` needs a visible GPU; ``meta`` holds no data, so nothing
  can be timed on it), ``--output`` (not a folder, in a place that can be written),
  ``--family`` (one the method supports, with a bench), the method parameters.

Imports torch (and timm or transformers where the model check needs them) inside the checks.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Optional

DTYPES = ("fp32", "float32", "bf16", "bfloat16", "fp16", "float16")
DECODER_FAMILIES = ("llava", "llava-next", "llava-next-video", "qwen2-vl", "qwen2.5-vl", "text-lm")
#: the adapter that serves a ``zoo.bench.vlm.CONFIGS`` entry of each kind
KIND_ADAPTER = {kind: kind for kind in ("llava", "llava-next", "llava-next-video", "qwen2-vl", "qwen2.5-vl",
                                         "llava-onevision", "text-lm", "qwen2-audio")}  # a config kind is its adapter name
DEFAULT_TIMM_MODEL = "vit_base_patch16_224"


class BenchArgumentError(ValueError):
    """A ``tokzoo bench`` argument that cannot work; ``str()`` names the option and what is allowed."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_params(method_id: str, params: dict[str, Any]):
    """The method class after checking ``params`` (an unknown name lists the method's parameters)."""
    from zoo.interface import method_class

    try:
        cls = method_class(method_id)
    except KeyError as exc:
        raise BenchArgumentError("METHOD", str(exc.args[0] if exc.args else exc)) from None
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in params if k not in names]
    if unknown:
        raise BenchArgumentError(f"-p {unknown[0]}", f"{method_id} has no parameter {unknown[0]!r}; "
                                 f"its parameters: {', '.join(names)}")
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        text = str(exc.args[0] if exc.args else exc)
        given = ", ".join(f"{k}={v!r}" for k, v in params.items())
        if not any(k in text for k in params):  # make sure the message names what was given
            text = f"{text} (given: {given})"
        prefix = "" if text.startswith(method_id) else f"{method_id}: "
        raise BenchArgumentError("method parameters", prefix + text) from None
    return cls


def implied_family(model: Optional[str]) -> Optional[str]:
    """The bench family a model name belongs to (``None``: a timm name or no name)."""
    if model is None:
        return None
    from zoo.bench import diffusion, encoder, video, vlm

    if model in encoder.CONFIGS:
        return encoder.CONFIGS[model][0]
    configs = vlm.CONFIGS
    if model in configs:
        return KIND_ADAPTER.get(configs[model].get("kind", "llava"), "llava")
    if model in video.CONFIGS:
        return "llava-onevision"
    if model in diffusion.MODELS:
        return "diffusers-unet"
    return None


def check_family(method_id: str, families: tuple[str, ...], requested: Optional[str], model: Optional[str]) -> str:
    """The family to benchmark: ``--family`` if given, else the one ``--model`` implies, else the
    method's first family with a bench."""
    from zoo.bench import BENCHES

    benched = [f for f in families if f in BENCHES]
    if requested is not None:
        if requested not in families:
            raise BenchArgumentError("--family", f"{_short(requested)}: {method_id} runs on {', '.join(families)}")
        if requested not in BENCHES:
            raise BenchArgumentError("--family", f"no benchmark for {requested!r}; {method_id} can be benchmarked on "
                                     f"{', '.join(benched) or 'none of its families'}")
        return requested
    implied = implied_family(model)
    if implied is not None:
        if implied not in families:
            raise BenchArgumentError("--model", f"{model!r} is a {implied} model; {method_id} runs on "
                                     f"{', '.join(families)}")
        return implied
    if not benched:
        raise BenchArgumentError("METHOD", f"no benchmark for any of {method_id}'s families ({', '.join(families)}); "
                                 f"benchmarks exist for {', '.join(sorted(BENCHES))}")
    return benched[0]


def check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise BenchArgumentError("--dtype", f"{_short(dtype)}; allowed: {', '.join(DTYPES)}")


def check_device(device: str) -> None:
    """``cpu``, or ``cuda``/``cuda:N`` with that GPU visible; ``meta`` and anything else refused."""
    text = device.strip()
    if text == "meta":
        raise BenchArgumentError("--device", "'meta' tensors hold no data, so nothing can be timed on them; "
                                 "allowed: cpu, cuda, cuda:N")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if text != "cpu" and match is None:
        raise BenchArgumentError("--device", f"{_short(device)}; allowed: cpu, cuda, cuda:N")
    if match is not None:
        import torch

        if not torch.cuda.is_available():
            raise BenchArgumentError("--device", f"{text}: CUDA is not available here (torch {torch.__version__} "
                                     "sees no GPU); use --device cpu")
        index, count = int(match.group(1) or 0), torch.cuda.device_count()
        if index >= count:
            raise BenchArgumentError("--device", f"{text}: this machine has {count} CUDA device(s) "
                                     f"(cuda:0..cuda:{count - 1})")


def check_output(output: Optional[str]) -> None:
    """The record's path: not a folder, and its folder (or the nearest existing parent) writable."""
    if not output:
        return
    path = Path(output).expanduser()
    if path.is_dir():
        raise BenchArgumentError("--output", f"{output} is a folder; give a file path, e.g. {path / 'bench.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise BenchArgumentError("--output", f"{output} exists and cannot be written")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise BenchArgumentError("--output", f"{output}: {parent} is a file, not a folder")
    try:  # the real test (permissions, read-only file systems, root): write a probe file there
        fd, probe = tempfile.mkstemp(prefix=".tokzoo-probe.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BenchArgumentError("--output", f"{output}: cannot write in {parent} ({exc.strerror or exc})") from None


def _positive(option: str, value: Optional[int]) -> None:
    if value is not None and value <= 0:
        raise BenchArgumentError(option, f"{value}: must be a positive number")


def _timm_model(model: Optional[str], img_size: Optional[int]) -> None:
    """A timm ViT name; ``img_size`` a multiple of its patch size (built on the meta device: no weights)."""
    import timm
    import torch

    name = model or DEFAULT_TIMM_MODEL
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; close: {', '.join(close)}" if close else "; see timm.list_models('vit_*')"
        raise BenchArgumentError("--model", f"{_short(name)} is not a timm model name (timm-vit bench){hint}")
    kwargs = {} if img_size is None else {"img_size": img_size}
    try:
        with torch.device("meta"):
            net = timm.create_model(name, pretrained=False, **kwargs)
    except TypeError as exc:
        if "img_size" in str(exc):
            raise BenchArgumentError("--model", f"{name} is not a vision transformer (it takes no img_size); "
                                     "the timm-vit bench needs a ViT with a patch embedding") from None
        return  # a model the meta device cannot build: leave the check to the run
    except Exception:
        return
    embed = getattr(net, "patch_embed", None)
    if embed is None or not hasattr(embed, "patch_size"):
        raise BenchArgumentError("--model", f"{name} has no patch embedding; the timm-vit bench needs a ViT")
    if img_size is not None:
        patch = tuple(embed.patch_size)
        if any(img_size % p for p in patch):
            raise BenchArgumentError("--img-size", f"{img_size} is not a multiple of {name}'s patch size "
                                     f"{patch[0]}; e.g. {max(patch[0], round(img_size / patch[0]) * patch[0])}")


def _encoder_model(fam: str, model: Optional[str], img_size: Optional[int], seq_len: Optional[int]) -> None:
    from zoo.bench import encoder

    name = model or "bert-base"
    ours = [n for n, spec in encoder.CONFIGS.items() if spec[0] == fam]
    if name not in encoder.CONFIGS or encoder.CONFIGS[name][0] != fam:
        what = "is not an encoder bench model" if name not in encoder.CONFIGS else \
            f"is a {encoder.CONFIGS[name][0]} model"
        raise BenchArgumentError("--model", f"{_short(name)} {what}; {fam} bench models: {', '.join(ours) or 'none'}")
    kw = encoder.CONFIGS[name][2]
    if img_size is not None:
        if fam not in ("hf-vit", "hf-clip-vision", "hf-siglip-vision"):
            raise BenchArgumentError("--img-size", f"{name} takes no image size (its input length is fixed by the "
                                     "bench" + (": use --seq-len" if fam == "hf-bert" else "") + ")")
        patch = kw.get("patch_size", 16)  # HF ViTConfig's default patch size
        if img_size % patch:
            raise BenchArgumentError("--img-size", f"{img_size} is not a multiple of {name}'s patch size {patch}; "
                                     f"e.g. {max(patch, round(img_size / patch) * patch)}")
    if seq_len is not None:
        if fam != "hf-bert":
            raise BenchArgumentError("--seq-len", f"{name} is not a text encoder; --seq-len is for "
                                     f"{', '.join(n for n, s in encoder.CONFIGS.items() if s[0] == 'hf-bert')}")
        limit = kw.get("max_position_embeddings", 512)
        if seq_len > limit:
            raise BenchArgumentError("--seq-len", f"{seq_len}: {name} has {limit} positions (at most {limit})")


def _decoder_model(fam: str, method_id: str, families: tuple[str, ...], model: Optional[str],
                   img_size: Optional[int], batch_size: Optional[int]) -> None:
    from zoo.bench import video, vlm

    configs = vlm.CONFIGS
    video_names = list(video.CONFIGS) if fam == "llava-onevision" else []
    if fam == "llava-onevision":
        image_names = [n for n, s in configs.items() if s.get("kind") == "llava-onevision"]
        default = video.DEFAULT_CONFIG
    else:
        image_names = list(configs)
        default = vlm.DEFAULT_CONFIG
    name = model or default
    if name not in image_names and name not in video_names:
        close = difflib.get_close_matches(name, image_names + video_names, n=3, cutoff=0.5)
        raise BenchArgumentError("--model", f"{_short(name)} is not a {fam} bench configuration; allowed: "
                                 f"{', '.join(image_names + video_names)}"
                                 + (f" (close: {', '.join(close)})" if close else ""))
    if name in configs:
        adapter = KIND_ADAPTER.get(configs[name].get("kind", "llava"), "llava")
        if adapter not in families:
            raise BenchArgumentError("--model", f"{name} is a {adapter} model; {method_id} runs on {', '.join(families)}")
        if model is None and fam != adapter:
            ours = [n for n, s in configs.items() if KIND_ADAPTER.get(s.get("kind", "llava")) == fam]
            raise BenchArgumentError("--family", f"{fam}: the default configuration {name} is a {adapter} model; give "
                                     f"--model " + (" or ".join(ours) if ours else "(no bench configuration of this "
                                                    "family yet) or leave out --family"))
    if img_size is not None:
        raise BenchArgumentError("--img-size", f"the {fam} bench uses the configuration's own image/frame size "
                                 f"({name}); leave --img-size out")
    if name in video_names and batch_size not in (None, 1):
        raise BenchArgumentError("--batch-size", f"{batch_size}: the video bench times one video (batch 1)")


def _diffusion_model(model: Optional[str], img_size: Optional[int]) -> None:
    from zoo.bench import diffusion

    models = diffusion.MODELS
    name = model or "sd15-unet"
    if name not in models:
        raise BenchArgumentError("--model", f"{_short(name)} is not a diffusers-unet bench model; allowed: "
                                 f"{', '.join(models)}")
    if img_size is not None and img_size % 64:
        raise BenchArgumentError("--img-size", f"{img_size} is not a multiple of 64 (the VAE's 8x and the UNet's "
                                 f"three 2x downsamplings); e.g. 512, 768, 1024")


def check_bench_args(method_id: str, params: dict[str, Any], *, model: Optional[str] = None,
                     family: Optional[str] = None, img_size: Optional[int] = None, seq_len: Optional[int] = None,
                     batch_size: Optional[int] = None, dtype: str = "bf16", device: str = "cpu",
                     output: Optional[str] = None, steps: Optional[int] = None,
                     baseline_every: Optional[int] = None) -> str:
    """Check every ``tokzoo bench`` argument (see the module doc); the family to benchmark."""
    cls = check_params(method_id, params)
    fam = check_family(method_id, tuple(cls.families), family, model)
    check_dtype(dtype)
    _positive("--img-size", img_size)
    _positive("--seq-len", seq_len)
    _positive("--batch-size", batch_size)
    check_output(output)
    check_device(device)
    if fam == "timm-vit":
        if seq_len is not None:
            raise BenchArgumentError("--seq-len", "the timm-vit bench takes images (--img-size), not text")
        _timm_model(model, img_size)
    elif fam.startswith("hf-"):
        _encoder_model(fam, model, img_size, seq_len)
    else:
        if seq_len is not None:
            raise BenchArgumentError("--seq-len", f"the {fam} bench sets its own prompt; --seq-len is for text encoders")
        if fam in DECODER_FAMILIES or fam == "llava-onevision":
            _decoder_model(fam, method_id, tuple(cls.families), model, img_size, batch_size)
        elif fam == "diffusers-unet":
            _diffusion_model(model, img_size)
            _diffusion_steps(steps, batch_size, baseline_every)
    if (steps is not None or baseline_every is not None) and fam != "diffusers-unet":
        option, value = ("--steps", steps) if steps is not None else ("--baseline-every", baseline_every)
        raise BenchArgumentError(option, f"{value}: only the diffusers-unet bench runs a denoising loop; "
                                 f"the {fam} bench times one forward (leave {option} out)")
    return fam


def _diffusion_steps(steps: Optional[int], batch_size: Optional[int], baseline_every: Optional[int]) -> None:
    """``--steps``: an integer >= 2 (a denoising loop; one step is the default bench); the loop's batch is the
    classifier-free-guidance pair; ``--baseline-every``: with ``--steps`` only, 1 .. steps."""
    if steps is None:
        if baseline_every is not None:
            raise BenchArgumentError("--baseline-every", f"{baseline_every}: only with --steps (it samples the "
                                     "baseline's steps of a denoising loop)")
        return
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise BenchArgumentError("--steps", f"{_short(steps)}: allowed: an integer >= 2 (denoising steps of the "
                                 "loop, e.g. 50 as DaTo and CA-ToMe report; leave --steps out to time one step)")
    if steps > 1000:
        raise BenchArgumentError("--steps", f"{steps}: allowed: at most 1000 (the scheduler's training timesteps)")
    if batch_size not in (None, 2):
        raise BenchArgumentError("--batch-size", f"{batch_size}: the denoising loop (--steps) runs one image with "
                                 "classifier-free guidance, a batch of 2; leave --batch-size out")
    if baseline_every is not None and (isinstance(baseline_every, bool) or not isinstance(baseline_every, int)
                                       or not 1 <= baseline_every <= steps):
        raise BenchArgumentError("--baseline-every", f"{_short(baseline_every)}: allowed: an integer from 1 (time "
                                 f"the baseline at every step) to --steps ({steps})")
