"""Analytic cost of a decoder (LLM) stack for a per-layer token schedule.

A *schedule* is the number of tokens entering each decoder layer during prefill:
``schedule[l]`` for ``l in range(num_layers)``. ``zoo.interface.Run.schedule("llm")``
returns exactly this for a recorded forward, so the analytic cost and a measured run
describe the same thing.

Papers count differently, so every function takes a named *convention*
(see :data:`CONVENTIONS`):

``"tokzoo"`` (default)
    Our own count, in FLOPs (one multiply-add = 2 FLOPs), correct for Llama-style layers:
    q/o projections ``2·n·d·(H·h)`` each, k/v projections ``2·n·d·(H_kv·h)`` each
    (grouped-query attention aware), attention scores and the weighted sum
    ``2·n·n_kv·(H·h)`` each (dense, full square unless ``causal=True``), and the MLP
    ``2·n·d·m`` per matrix (3 matrices for SwiGLU, 2 for a GELU MLP). Norms, softmax,
    activations, residual adds and rotary embeddings are elementwise and not counted;
    neither is the LM head. This is what ``torch.utils.flop_counter.FlopCounterMode``
    counts for the matmuls of a real layer.
``"fastv"``
    FastV (arXiv 2403.06764, Sec. 4 "Computing Budget Estimation", Eq. 5): per layer
    ``4·n·d² + 2·n²·d + 2·n·d·m`` with ``n`` all tokens (system prompt, image, text);
    a two-matrix FFN and multiply-adds counted once.
``"pdrop"``
    PyramidDrop (arXiv 2410.17247): per layer ``4·n·d² + 2·n²·d + 3·n·d·m`` (three FFN
    matrices of the SwiGLU MLP), where ``n`` counts the *image tokens only*.
``"sparsevlm"``
    SparseVLM's own count (Gumpest/SparseVLMs ``modelling_sparse_llama.py`` at 14cb5a9, the
    ``all_FLOPs`` sum in ``LlamaDynamicvitModel.forward``): per layer
    ``4·n·d² + 2·n²·d + 3·n·d·m`` with ``n`` every token entering the layer (system, image,
    text), multiply-adds counted once.
``"dycoke"``
    DyCoke (arXiv 2411.15024) counts the decoding stage too. tokzoo's reading: FastV's
    prefill count plus, for each generated token and layer, Eq. 5 with one query token
    attending to ``c`` cached tokens: ``4·d² + 2·d·m + 2·d·c`` (``c`` = prefill tokens kept in
    that layer's cache plus tokens generated so far). Checked against the official README's
    results table (KD-TAO/DyCoke ``figures/table.png`` at dd74634, see ``repro/dycoke.py``):
    its TFLOPs column is this count's prefill part (FastV's Eq. 5 with 76 non-visual tokens
    reproduces all four LLaVA-OV-7B rows); the decoding term cannot be identified from it
    (0 to about 32 decoded tokens fit equally well) and stays tokzoo's reading of the supplement,
    whose equations were not available offline.

Which tokens a convention counts is part of the convention: pass a :class:`TokenSchedule`
(image and other tokens per layer) and the convention picks; a plain list of ints is taken
as already counting what the convention counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

MLP_KINDS = {"swiglu": 3, "gelu": 2}


@dataclass(frozen=True)
class Convention:
    """How one paper counts the cost of a decoder layer."""

    name: str
    counts: str  # "all" tokens or "image" tokens only
    unit: str  # what one unit means
    source: str
    description: str


CONVENTIONS: dict[str, Convention] = {
    "tokzoo": Convention(
        "tokzoo", "all", "FLOPs (multiply-add = 2)",
        "tokzoo's own count (matches torch FlopCounterMode on the matmuls of a Llama layer)",
        "q/k/v/o projections (GQA-aware) + QK^T + AV (dense) + SwiGLU or GELU MLP; elementwise ops and LM head not counted",
    ),
    "fastv": Convention(
        "fastv", "all", "FastV units (multiply-adds, 2-matrix FFN)",
        "FastV, arXiv 2403.06764, Sec. 4 (Computing Budget Estimation), Eq. 5",
        "per layer 4nd^2 + 2n^2d + 2ndm, n = all tokens (system, image, text)",
    ),
    "pdrop": Convention(
        "pdrop", "image", "PyramidDrop units (multiply-adds, 3-matrix FFN)",
        "PyramidDrop, arXiv 2410.17247, FLOPs of the image tokens (Sec. 3 / Appendix)",
        "per layer 4nd^2 + 2n^2d + 3ndm, n = image tokens only",
    ),
    "sparsevlm": Convention(
        "sparsevlm", "all", "SparseVLM units (multiply-adds, 3-matrix FFN)",
        "SparseVLM, Gumpest/SparseVLMs llava/model/language_model/modelling_sparse_llama.py@14cb5a9 (all_FLOPs)",
        "per layer 4nd^2 + 2n^2d + 3ndm, n = all tokens entering the layer",
    ),
    "dycoke": Convention(
        "dycoke", "all", "FastV units (multiply-adds, 2-matrix FFN)",
        "tokzoo's reading of DyCoke (arXiv 2411.15024): FastV Eq. 5 for prefill and for each KV-cached decode step; "
        "the prefill part reproduces the README table (figures/table.png@dd74634), the decoding part is unverified",
        "prefill as fastv; each decoded token: 4d^2 + 2dm + 2dc per layer, c = cached tokens",
    ),
}


@dataclass(frozen=True)
class DecoderConfig:
    """The shape of a decoder stack (numbers from a model's public ``config.json``).

    ``intermediate_size`` is the MLP width ``m``; ``mlp`` is ``"swiglu"`` (gate, up, down)
    or ``"gelu"`` (up, down). ``num_key_value_heads`` defaults to ``num_attention_heads``.
    """

    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    mlp: str = "swiglu"
    vocab_size: int | None = None
    name: str = ""

    def __post_init__(self) -> None:
        for f in ("num_layers", "hidden_size", "intermediate_size", "num_attention_heads"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"DecoderConfig{f' {self.name!r}' if self.name else ''}: {f}={v!r} must be a positive integer")
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"DecoderConfig: mlp={self.mlp!r}; allowed: {', '.join(MLP_KINDS)}")
        kv = self.num_key_value_heads
        if kv is not None and (kv <= 0 or self.num_attention_heads % kv):
            raise ValueError(f"DecoderConfig: num_key_value_heads={kv!r} must divide num_attention_heads={self.num_attention_heads}")

    @property
    def kv_heads(self) -> int:
        return self.num_key_value_heads or self.num_attention_heads

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, name: str = "") -> "DecoderConfig":
        """Build from a Hugging Face style config dict (a LLaVA config's ``text_config`` is used).

        Recognised keys: ``num_hidden_layers``, ``hidden_size``, ``intermediate_size``,
        ``num_attention_heads``, ``num_key_value_heads``, ``head_dim``, ``hidden_act``,
        ``vocab_size``; or this class's own field names.
        """
        data = dict(data)
        if "text_config" in data and isinstance(data["text_config"], Mapping):
            data = dict(data["text_config"])
        own = {f.name for f in fields(cls)}
        if "num_layers" not in data and "num_hidden_layers" in data:
            data["num_layers"] = data["num_hidden_layers"]
        if "mlp" not in data:
            act = str(data.get("hidden_act", "silu"))
            data["mlp"] = "swiglu" if act in {"silu", "swish"} else "gelu"
        missing = [k for k in ("num_layers", "hidden_size", "intermediate_size", "num_attention_heads") if data.get(k) is None]
        if missing:
            raise ValueError(f"decoder config {name or data.get('name', '')!r} lacks {', '.join(missing)}")
        kwargs = {k: data[k] for k in own if k in data and data[k] is not None}
        kwargs.setdefault("name", name)
        return cls(**kwargs)

    @classmethod
    def from_pretrained_config(cls, config: Any) -> "DecoderConfig":
        """Build from a ``transformers`` config object (``LlavaConfig`` uses its ``text_config``)."""
        text = getattr(config, "text_config", None) or config
        return cls.from_dict(text.to_dict(), name=getattr(config, "name_or_path", "") or "")

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "DecoderConfig":
        """Load a JSON config file (e.g. ``repro/configs/vicuna-7b.json``)."""
        path = Path(path)
        return cls.from_dict(json.loads(path.read_text()), name=path.stem)


@dataclass(frozen=True)
class TokenSchedule:
    """Tokens entering each decoder layer, split into image tokens and other tokens.

    ``image[l]`` and ``other[l]`` for ``l in range(num_layers)``; ``total`` is their sum.
    """

    image: tuple[int, ...]
    other: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.image) != len(self.other):
            raise ValueError(f"TokenSchedule: image has {len(self.image)} layers, other has {len(self.other)}")
        for name in ("image", "other"):
            bad = [v for v in getattr(self, name) if not isinstance(v, int) or v < 0]
            if bad:
                raise ValueError(f"TokenSchedule.{name}: token counts must be integers >= 0, got {bad[:3]}")

    @property
    def total(self) -> tuple[int, ...]:
        return tuple(i + o for i, o in zip(self.image, self.other))

    def __len__(self) -> int:
        return len(self.image)

    def counted(self, convention: str) -> tuple[int, ...]:
        """The per-layer token counts that ``convention`` counts."""
        return self.image if _convention(convention).counts == "image" else self.total


Schedule = Union[TokenSchedule, Sequence[int]]


# ---------------------------------------------------------------- schedule builders
def full_schedule(num_layers: int, n_image: int, n_other: int) -> TokenSchedule:
    """No reduction: every layer sees ``n_image + n_other`` tokens."""
    return TokenSchedule((int(n_image),) * num_layers, (int(n_other),) * num_layers)


def drop_schedule(num_layers: int, n_image: int, n_other: int, *, boundaries: Sequence[int],
                  image_tokens: Sequence[int]) -> TokenSchedule:
    """Image tokens reduced at stage boundaries; other tokens kept.

    Layers ``[0, boundaries[0])`` see ``n_image`` image tokens; layers
    ``[boundaries[i], boundaries[i+1])`` see ``image_tokens[i]``. FastV with layer K and
    prune ratio R is ``boundaries=[K], image_tokens=[round((1-R)*n_image)]``.
    """
    if len(boundaries) != len(image_tokens):
        raise ValueError(f"drop_schedule: {len(boundaries)} boundaries but {len(image_tokens)} image token counts")
    if list(boundaries) != sorted(boundaries) or any(not 0 <= b <= num_layers for b in boundaries):
        raise ValueError(f"drop_schedule: boundaries {list(boundaries)} must be increasing layer indices in 0..{num_layers}")
    image = []
    for layer in range(num_layers):
        count = n_image
        for b, n in zip(boundaries, image_tokens):
            if layer >= b:
                count = n
        image.append(int(count))
    return TokenSchedule(tuple(image), (int(n_other),) * num_layers)


def fastv_schedule(num_layers: int, n_image: int, n_other: int, *, k: int, r: float) -> TokenSchedule:
    """FastV's schedule: layers ``0..K-1`` full, then ``round((1-R)·n_image)`` image tokens.

    ``R`` is FastV's *prune* ratio (the zoo's ``keep_ratio`` is ``1 - R``).
    """
    if not 0 <= r <= 1:
        raise ValueError(f"fastv_schedule: r={r!r} must be within 0..1 (a prune ratio)")
    return drop_schedule(num_layers, n_image, n_other, boundaries=[k], image_tokens=[round((1 - r) * n_image)])


def kept_tokens(n: int, keep_ratio: float | None = None, keep_tokens: int | None = None) -> int:
    """Tokens kept out of ``n`` under the zoo's budget vocabulary, in pure Python.

    The same rule as ``zoo.core.select.keep_count`` (which the methods use; a test keeps the
    two equal): ``keep_tokens`` clipped to ``n``; else ``ceil(keep_ratio * n)`` with a tiny
    tolerance (``0.07 * 100`` stays 7), at least 1 when ``n > 0``; neither: ``n``.
    """
    import math

    if keep_tokens is not None:
        return max(0, min(int(keep_tokens), n))
    if keep_ratio is None:
        return n
    if n <= 0:
        return 0
    return max(1, min(n, math.ceil(keep_ratio * n - 1e-9)))


def pyramid_schedule(num_layers: int, n_image: int, n_other: int, *, layers: Sequence[int],
                     lam: float) -> TokenSchedule:
    """PyramidDrop's schedule: before layer ``layers[s-1]`` the image tokens drop to
    ``int(n_image * lam ** s)`` (the official ``int()``; λ = 0.5 on 576: 288, 144, 72)."""
    counts = [int(n_image * lam ** (s + 1)) for s in range(len(layers))]
    return drop_schedule(num_layers, n_image, n_other, boundaries=list(layers), image_tokens=counts)


def sparsevlm_recycled(pruned: int) -> int:
    """Cluster tokens SparseVLM inserts back after pruning ``pruned`` image tokens (official v1.5:
    the ``int(0.3 · pruned) + 1`` most relevant pruned tokens form ``int(m / 10) + 1`` clusters)."""
    if pruned <= 0:
        return 0
    m = int(0.3 * pruned) + 1
    return int(m / 10) + 1


def sparsevlm_schedule(num_layers: int, n_image: int, n_other: int, *, layers: Sequence[int],
                       kept: Sequence[int], recycle: bool = True) -> TokenSchedule:
    """Tokens *entering* each decoder layer under SparseVLM (official v1.5 rule): decoder layer
    ``L`` in ``layers`` runs on every token reaching it and its output keeps ``kept[i]`` image
    tokens (at most what reached it) plus the recycled cluster tokens
    (:func:`sparsevlm_recycled`); layer ``L + 1`` is the first on the reduced set."""
    if len(layers) != len(kept):
        raise ValueError(f"sparsevlm_schedule: {len(layers)} layers but {len(kept)} kept counts")
    image, count = [], int(n_image)
    for layer in range(num_layers):
        image.append(count)
        if layer in layers:
            k = min(int(kept[list(layers).index(layer)]), count)
            count = k + (sparsevlm_recycled(count - k) if recycle else 0)
    return TokenSchedule(tuple(image), (int(n_other),) * num_layers)


def image_tokens_after_layers(schedule: TokenSchedule) -> tuple[int, ...]:
    """Image tokens *leaving* each layer (the next layer's input; the last layer keeps its count):
    what SparseVLM's "Equal Tokens" log averages."""
    return (*schedule.image[1:], schedule.image[-1])


# ---------------------------------------------------------------- counting
def _convention(name: str) -> Convention:
    if name not in CONVENTIONS:
        raise ValueError(f"unknown FLOPs convention {name!r}; allowed: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


def layer_flops(n: int, cfg: DecoderConfig, convention: str = "tokzoo", *, kv_len: int | None = None,
                causal: bool = False) -> float:
    """Cost of one decoder layer processing ``n`` query tokens against ``kv_len`` keys (default ``n``).

    ``causal`` (tokzoo convention only) counts only the lower triangle of the attention
    matrices (what a causal kernel that skips masked blocks computes).
    """
    _convention(convention)
    n = int(n)
    c = n if kv_len is None else int(kv_len)
    d, m = cfg.hidden_size, cfg.intermediate_size
    if convention in {"fastv", "dycoke"}:
        return 4 * n * d * d + 2 * n * c * d + 2 * n * d * m
    if convention in {"pdrop", "sparsevlm"}:
        return 4 * n * d * d + 2 * n * c * d + 3 * n * d * m
    q_width = cfg.num_attention_heads * cfg.dim_head
    kv_width = cfg.kv_heads * cfg.dim_head
    proj = 2 * n * d * (2 * q_width + 2 * kv_width)
    pairs = (n * (n + 1) // 2 + n * (c - n)) if (causal and c >= n) else n * c
    attn = 2 * 2 * pairs * q_width
    mlp = 2 * MLP_KINDS[cfg.mlp] * n * d * m
    return float(proj + attn + mlp)


def _counted(schedule: Schedule, convention: str, num_layers: int) -> tuple[int, ...]:
    counts = schedule.counted(convention) if isinstance(schedule, TokenSchedule) else tuple(int(v) for v in schedule)
    if len(counts) != num_layers:
        raise ValueError(f"schedule has {len(counts)} layers but the decoder has {num_layers}")
    return counts


def decode_flops(schedule: Schedule, cfg: DecoderConfig, convention: str = "dycoke", *, new_tokens: int) -> float:
    """Cost of generating ``new_tokens`` tokens with a KV cache after a prefill with ``schedule``.

    Every generated token passes through every layer as one query token attending to the
    tokens cached in that layer (its prefill count plus the tokens generated before it).
    """
    counts = _counted(schedule, convention, cfg.num_layers)
    total = 0.0
    for step in range(int(new_tokens)):
        for n_cached in counts:
            total += layer_flops(1, cfg, convention, kv_len=n_cached + step + 1)
    return total


def stack_flops(schedule: Schedule, cfg: DecoderConfig, convention: str = "tokzoo", *, new_tokens: int = 0,
                causal: bool = False) -> float:
    """Cost of the whole decoder stack for a prefill with ``schedule`` (and decoding when asked).

    ``new_tokens`` adds the decoding stage (required by the ``"dycoke"`` convention's
    definition; optional elsewhere).
    """
    counts = _counted(schedule, convention, cfg.num_layers)
    total = float(sum(layer_flops(n, cfg, convention, causal=causal) for n in counts))
    if new_tokens:
        total += decode_flops(schedule, cfg, convention, new_tokens=new_tokens)
    return total


def flops_ratio(method: Schedule, baseline: Schedule, cfg: DecoderConfig, convention: str = "tokzoo",
                **kwargs: Any) -> float:
    """``cost(method) / cost(baseline)`` (FastV's "FLOPs = 57%" is a ratio of 0.57)."""
    return stack_flops(method, cfg, convention, **kwargs) / stack_flops(baseline, cfg, convention, **kwargs)


def flops_reduction(method: Schedule, baseline: Schedule, cfg: DecoderConfig, convention: str = "tokzoo",
                    **kwargs: Any) -> float:
    """``1 - cost(method) / cost(baseline)`` (FastV's "45% FLOPs reduction" is 0.45)."""
    return 1.0 - flops_ratio(method, baseline, cfg, convention, **kwargs)


def theoretical_speedup(method: Schedule, baseline: Schedule, cfg: DecoderConfig, convention: str = "tokzoo",
                        **kwargs: Any) -> float:
    """``cost(baseline) / cost(method)``: the speedup if time were proportional to FLOPs."""
    return 1.0 / flops_ratio(method, baseline, cfg, convention, **kwargs)


def describe(cfg: DecoderConfig, schedule: Schedule, convention: str = "tokzoo") -> dict[str, Any]:
    """A JSON-ready summary: convention, counted tokens per layer, total cost."""
    conv = _convention(convention)
    counts = _counted(schedule, convention, cfg.num_layers)
    return {
        "convention": conv.name,
        "unit": conv.unit,
        "source": conv.source,
        "counts": conv.counts,
        "model": cfg.name,
        "tokens_per_layer": list(counts),
        "flops": stack_flops(schedule, cfg, convention),
    }


__all__ = [
    "CONVENTIONS", "Convention", "DecoderConfig", "TokenSchedule", "Schedule", "MLP_KINDS",
    "full_schedule", "drop_schedule", "fastv_schedule", "pyramid_schedule", "sparsevlm_schedule",
    "sparsevlm_recycled", "image_tokens_after_layers", "kept_tokens",
    "layer_flops", "stack_flops", "decode_flops", "flops_ratio", "flops_reduction", "theoretical_speedup",
    "describe",
]

