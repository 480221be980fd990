"""Honest reproduction status for the site: one badge per status kind with counts.

``zoo.repro`` derives, per paper, a :class:`~zoo.repro.status.KindStatus` for each status kind
(analytic, speed, conformance, accuracy) and one paper word. The site shows the kinds
(``accuracy 0/3 not run``, ``speed 2/2 · cpu, random weights``) next to the word, and never a
green "reproduced" for a paper without a reproduced accuracy claim: when every claim matched but
the paper has no accuracy claim, the word shown is "reproduced, no accuracy claim".
"""

from __future__ import annotations

from typing import Any

from zoo.site.badges import Badge

KIND_ORDER = ("analytic", "speed", "conformance", "accuracy")
#: words the site shows beyond zoo.vocab.REPRO_STATUS, with their meaning
SHOWN_WORDS = {
    "reproduced, no accuracy claim": "Every claim is reproduced, but the paper has no accuracy claim (or it was not "
                                     "reproduced): its arithmetic or speed was checked, not its results.",
}


def meaning(word: str) -> str:
    """What a shown status word means (``zoo.vocab.REPRO_STATUS`` or :data:`SHOWN_WORDS`)."""
    from zoo.vocab import REPRO_STATUS

    return SHOWN_WORDS.get(word) or REPRO_STATUS.get(word, "")


def shown_word(status: str | None, kinds: dict[str, dict[str, Any]]) -> str | None:
    """The paper-level word as the site shows it (see the module docstring)."""
    if status == "reproduced":
        acc = kinds.get("accuracy")
        if not acc or acc.get("counts", {}).get("reproduced", 0) < acc.get("total", 0):
            return "reproduced, no accuracy claim"
    return status


def kind_message(kind: dict[str, Any]) -> str:
    """``3/3``, ``0/5 not run``, ``1/2, 1 deviates``, ``2/2 · cpu, random weights``."""
    counts = kind.get("counts") or {}
    total = int(kind.get("total") or 0)
    ok = int(counts.get("reproduced") or 0)
    skipped = int(counts.get("skipped") or 0)
    out = f"{ok}/{total}"
    extra = [f"{counts[s]} {s}" for s in ("deviates", "failed", "inconclusive") if counts.get(s)]
    if skipped == total:
        extra.append("not run")
    elif skipped:
        extra.append(f"{skipped} not run")
    if extra:
        out += ", " + ", ".join(extra)
    labels = [str(x) for x in (kind.get("labels") or [])]
    if labels and skipped < total:
        out += " · " + "; ".join(labels)
    return out


def kind_badges(kinds: dict[str, dict[str, Any]]) -> list[Badge]:
    """One badge per status kind the paper has claims of, in KIND_ORDER."""
    out = []
    for name in sorted(kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k)):
        kind = kinds[name]
        out.append(Badge(name, kind_message(kind), tone=str(kind.get("word") or "not run")))
    return out


def status_text(kinds: dict[str, dict[str, Any]]) -> str:
    """Every kind in one line: ``analytic 3/3 · accuracy 0/2 not run``."""
    return " · ".join(f"{b.kind} {b.value}" for b in kind_badges(kinds)) or "no claims"
