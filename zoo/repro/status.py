"""Reproduction status derived from claim records: per status kind, and one paper-level word.

Users see four *status kinds* (``zoo.vocab.CLAIM_KIND_GROUP``): ``analytic`` (FLOPs, token
counts), ``speed`` (latency, throughput; usually CPU ratios on random weights), ``conformance``
(same numbers as the authors' code) and ``accuracy`` (accuracy and fidelity: needs weights and
data). Each is reported with its own counts, e.g.
``analytic 21/21 · speed 2/2 (cpu, random weights) · conformance 1/1 · accuracy 0/5 not run``;
the paper-level word (:func:`derive_status`) never says ``reproduced`` for a paper whose only
checked claims are arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from zoo.repro.records import Record
from zoo.repro.spec import PaperSpec
from zoo.vocab import CLAIM_KIND_GROUP

#: status of one claim (record statuses; a claim without a record counts as ``skipped``)
CLAIM_STATES = ("reproduced", "deviates", "failed", "inconclusive", "skipped")


def kind_group(kind: str) -> str:
    """The status kind (``analytic`` | ``speed`` | ``conformance`` | ``accuracy``) of a claim kind."""
    for group, kinds in CLAIM_KIND_GROUP.items():
        if kind in kinds:
            return group
    raise KeyError(f"claim kind {kind!r} belongs to no status kind; known kinds: "
                   + ", ".join(k for ks in CLAIM_KIND_GROUP.values() for k in ks))


@dataclass(frozen=True)
class KindStatus:
    """Counts of one status kind for one paper.

    ``total`` claims of this kind; ``counts`` per claim state (``CLAIM_STATES``); ``labels``:
    how the measured ones were measured (e.g. ``"cpu, random weights"``), deduplicated.
    """

    kind: str
    total: int
    counts: dict[str, int]
    labels: tuple[str, ...] = ()

    @property
    def reproduced(self) -> int:
        return self.counts["reproduced"]

    @property
    def measured(self) -> int:
        """Claims with a verdict-bearing measurement (everything but skipped)."""
        return self.total - self.counts["skipped"]

    @property
    def word(self) -> str:
        """``reproduced`` | ``deviates`` | ``failed`` | ``inconclusive`` | ``partial`` | ``not run``."""
        c = self.counts
        if c["deviates"]:
            return "deviates"
        if c["failed"]:
            return "failed"
        if self.reproduced == self.total:
            return "reproduced"
        if c["inconclusive"] and not self.reproduced:
            return "inconclusive"
        return "partial" if self.reproduced else "not run"

    def text(self) -> str:
        """``"speed 2/2 (cpu, random weights)"``, ``"accuracy 0/5 not run"``, ``"analytic 20/21, 1 deviates"``."""
        out = f"{self.kind} {self.reproduced}/{self.total}"
        extra = [f"{self.counts[s]} {s}" for s in ("deviates", "failed", "inconclusive") if self.counts[s]]
        if self.measured == 0:
            extra.append("not run")
        elif self.counts["skipped"]:
            extra.append(f"{self.counts['skipped']} not run")
        if extra:
            out += ", " + ", ".join(extra)
        if self.labels and self.measured:
            out += f" ({'; '.join(self.labels)})"
        return out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "total": self.total, "counts": dict(self.counts), "labels": list(self.labels),
                "word": self.word, "text": self.text()}


def _by_claim(spec: PaperSpec, records: Iterable[Record]) -> dict[str, Record]:
    ids = {c.id for c in spec.claims}
    return {r.claim_id: r for r in records if r.claim_id in ids}


def _measure_label(record: Record) -> str:
    """How a record was measured, in a few words: device and weights (``"cpu, random weights"``)."""
    words = [w.strip() for w in (record.label or "").split(",") if w.strip()]
    device = (record.hardware or {}).get("device") or ("cuda" if (record.hardware or {}).get("gpu") else "")
    if device and not any(w.lower() in ("cpu", "cuda") or w.lower().startswith(("cuda", "gpu")) for w in words):
        words.insert(0, str(device))
    device = [w for w in words if w.lower() in ("cpu", "cuda") or w.lower().startswith("gpu")]
    weights = [w for w in words if "weights" in w.lower()]
    return ", ".join(device + weights)  # one order, so equal labels read the same: "cpu, random weights"


def kind_statuses(spec: PaperSpec, records: Iterable[Record]) -> dict[str, KindStatus]:
    """Status kind -> :class:`KindStatus`, for the kinds this paper has claims of (in
    ``CLAIM_KIND_GROUP`` order). Only records of claims the spec still declares count."""
    by_claim = _by_claim(spec, records)
    out: dict[str, KindStatus] = {}
    for group in CLAIM_KIND_GROUP:
        claims = [c for c in spec.claims if kind_group(c.kind) == group]
        if not claims:
            continue
        counts = {s: 0 for s in CLAIM_STATES}
        labels: list[str] = []
        for c in claims:
            rec = by_claim.get(c.id)
            state = rec.status if rec is not None else "skipped"
            counts[state] += 1
            if rec is not None and state != "skipped" and group != "analytic":
                label = _measure_label(rec)
                if label and label not in labels:
                    labels.append(label)
        out[group] = KindStatus(group, len(claims), counts, tuple(labels))
    return out


def status_line(spec: PaperSpec, records: Iterable[Record], sep: str = " · ") -> str:
    """One line with every status kind's counts, e.g. ``analytic 3/3 · accuracy 0/2 not run``."""
    return sep.join(k.text() for k in kind_statuses(spec, list(records)).values()) or "no claims"


def derive_status(spec: PaperSpec, records: Iterable[Record]) -> str:
    """One paper-level word (vocab ``REPRO_STATUS``) summarising only what ran.

    ``deviates`` if any claim deviates; else ``failed`` if any errored; ``not run`` when nothing
    was measured (inconclusive speed runs count as not measured); ``analytic only`` when every
    claim is analytic and all match; ``reproduced, no accuracy claim`` when all match, some are
    not analytic and none is an accuracy claim; ``reproduced`` when every claim of every kind,
    accuracy included, is reproduced; ``partial`` otherwise. Always show
    :func:`status_line` next to it.
    """
    kinds = kind_statuses(spec, list(records))
    if not kinds:
        return "not run"
    if any(k.counts["deviates"] for k in kinds.values()):
        return "deviates"
    if any(k.counts["failed"] for k in kinds.values()):
        return "failed"
    n_ok = sum(k.reproduced for k in kinds.values())
    if n_ok == 0:
        return "not run"
    if all(k.reproduced == k.total for k in kinds.values()):
        if set(kinds) == {"analytic"}:
            return "analytic only"
        return "reproduced" if "accuracy" in kinds else "reproduced, no accuracy claim"
    return "partial"


def summary(spec: PaperSpec, records: Iterable[Record]) -> dict[str, int]:
    """Counts of claim states over all kinds (claims without a record count as ``skipped``)."""
    by_claim = _by_claim(spec, records)
    out = {s: 0 for s in CLAIM_STATES}
    for c in spec.claims:
        out[by_claim[c.id].status if c.id in by_claim else "skipped"] += 1
    return out
