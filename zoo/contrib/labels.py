"""A transparent keyword proposer for catalog labels (modality, technique, family, training_free).

This is a *proposal* for a human to review, not a classifier: every label comes with the
keyword that triggered it and where it was found, so the contributor can see why and
correct it. The rules are the table :data:`RULES` below, in plain regular expressions
(case-insensitive, matched on word starts). Technique labels found in the title win over
those found only in the abstract (abstracts often mention the alternatives they reject).
When no rule fires for a required field, nothing is guessed: the caller must ask the
contributor for the label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zoo.vocab import FAMILY, MODALITY, TECHNIQUE


@dataclass(frozen=True)
class Rule:
    """``label`` of ``field`` is proposed when any of ``patterns`` matches, unless one of
    the labels in ``unless`` (same field) was already proposed by an earlier rule."""

    field: str
    label: str
    patterns: tuple[str, ...]
    unless: tuple[str, ...] = ()


_VLM = (r"vision[- ]language models?", r"VLMs?\b", r"LVLMs?\b", r"MLLMs?\b", r"VLLMs?\b", r"LMMs?\b",
        r"multi-?modal large language", r"multi-?modal LLMs?", r"large multi-?modal models?", r"LLaVA", r"Qwen-?VL", r"InternVL")

RULES: tuple[Rule, ...] = (
    # modality: the kind of tokens that get reduced
    Rule("modality", "video", (r"video", r"frames?\b", r"temporal")),
    Rule("modality", "image", (r"images?\b", r"visual", r"vision", r"ViTs?\b", r"pixels?", r"patch(es)?\b")),
    Rule("modality", "audio", (r"speech", r"audio", r"ASR\b")),
    Rule("modality", "3d", (r"point clouds?", r"3D\b", r"mesh(es)?\b")),
    Rule("modality", "text", (r"prompts?\b", r"long[- ]context", r"text tokens", r"language models?",
                              r"LLMs?\b"), unless=("image", "video", "audio", "3d")),
    # technique
    Rule("technique", "kv-compression", (r"KV[- ]cache", r"key-value cache")),
    Rule("technique", "pruning", (r"prun", r"drop", r"discard", r"evict", r"sparsif")),
    Rule("technique", "merging", (r"merg", r"cluster", r"fus(e|ion|ing)\b")),
    Rule("technique", "pooling", (r"pool", r"downsampl")),
    Rule("technique", "resampling", (r"resampl", r"Q-?Former", r"learnable quer", r"compressor")),
    Rule("technique", "routing", (r"rout", r"mixture[- ]of[- ]depths", r"early[- ]exit", r"skip")),
    Rule("technique", "caching", (r"cach",), unless=("kv-compression",)),
    Rule("technique", "tokenization", (r"tokeniz", r"re-tokeniz", r"adaptive patch")),
    Rule("technique", "sparse-attention", (r"sparse attention",)),
    Rule("technique", "hardware", (r"accelerator", r"FPGA", r"hardware")),
    Rule("technique", "analysis", (r"survey", r"benchmark(ing)? of", r"empirical study", r"revisit", r"rethink")),
    # family
    Rule("family", "video-llm", (r"video[- ]?LLMs?\b", r"video large language", r"video[- ]language model",
                                 r"VideoLLM", r"video MLLM")),
    Rule("family", "vlm", _VLM),
    Rule("family", "diffusion", (r"diffusion", r"DiTs?\b")),
    Rule("family", "vit", (r"vision transformers?", r"ViTs?\b", r"DeiT", r"Swin")),
    Rule("family", "dense-vit", (r"detection", r"segmentation", r"DETR", r"SAM\b", r"matting", r"depth estimation")),
    Rule("family", "video-vit", (r"video transformers?", r"TimeSformer", r"ViViT", r"VideoMAE")),
    Rule("family", "clip", (r"CLIP\b", r"BLIP", r"ViLT", r"image-text retrieval")),
    Rule("family", "speech", (r"speech", r"audio", r"Whisper", r"wav2vec")),
    Rule("family", "ssm", (r"Mamba", r"state[- ]space")),
    Rule("family", "encoder-lm", (r"BERT", r"RoBERTa", r"encoder language model")),
    Rule("family", "llm", (r"large language models?", r"LLMs?\b"), unless=("vlm", "video-llm", "speech")),
)

TRAINING_FREE_PATTERNS: tuple[str, ...] = (
    r"training[- ]free", r"plug[- ]and[- ]play", r"without (any )?(re-?)?training", r"no (additional |extra )?training",
    r"off[- ]the[- ]shelf", r"zero-shot",
)

VOCABULARY = {"modality": MODALITY, "technique": TECHNIQUE, "family": FAMILY}


@dataclass(frozen=True)
class Reason:
    field: str
    label: str
    keyword: str
    where: str  # "title" or "abstract"

    def __str__(self) -> str:
        return f"{self.field}={self.label}: {self.where} mentions {self.keyword!r}"


@dataclass
class LabelProposal:
    """Labels per field (vocabulary order), ``training_free``, and why each was proposed."""

    modality: list[str] = field(default_factory=list)
    technique: list[str] = field(default_factory=list)
    family: list[str] = field(default_factory=list)
    training_free: bool = False
    reasons: list[Reason] = field(default_factory=list)

    def missing(self) -> list[str]:
        """Required fields the keywords could not fill (the contributor must choose)."""
        return [name for name in ("modality", "technique", "family") if not getattr(self, name)]

    def explain(self) -> list[str]:
        lines = [str(r) for r in self.reasons]
        if not any(r.field == "training_free" for r in self.reasons):
            lines.append("training_free=false: no 'training-free' / 'plug-and-play' wording found")
        return lines


def _search(patterns: tuple[str, ...], text: str) -> str | None:
    for pattern in patterns:
        m = re.search(r"(?<![A-Za-z0-9])(?:" + pattern + r")[\w-]*", text, re.IGNORECASE)
        if m:
            return m.group(0)
    return None


def propose_labels(title: str, abstract: str = "") -> LabelProposal:
    """Propose labels from ``title`` and ``abstract`` with :data:`RULES` (see module docstring)."""
    proposal = LabelProposal()
    for name in ("modality", "technique", "family"):
        hits: dict[str, Reason] = {}
        sources = [("title", title), ("abstract", abstract)]
        if name == "technique":  # title-only first; fall back to the abstract
            title_hits = _apply_rules(name, [("title", title)])
            hits = title_hits or _apply_rules(name, [("abstract", abstract)])
        else:
            hits = _apply_rules(name, sources)
        order = list(VOCABULARY[name])
        labels = sorted(hits, key=order.index)
        setattr(proposal, name, labels)
        proposal.reasons.extend(hits[label] for label in labels)
    for where, text in (("title", title), ("abstract", abstract)):
        keyword = _search(TRAINING_FREE_PATTERNS, text)
        if keyword:
            proposal.training_free = True
            proposal.reasons.append(Reason("training_free", "true", keyword, where))
            break
    return proposal


def _apply_rules(name: str, sources: list[tuple[str, str]]) -> dict[str, Reason]:
    hits: dict[str, Reason] = {}
    for rule in RULES:
        if rule.field != name or rule.label in hits or any(u in hits for u in rule.unless):
            continue
        for where, text in sources:
            keyword = _search(rule.patterns, text)
            if keyword:
                hits[rule.label] = Reason(name, rule.label, keyword, where)
                break
    return hits
