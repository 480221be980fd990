"""Readable, unique, stable paper ids.

An id is derived once, when a paper enters the catalog, from its bold short name (e.g.
``**PyramidDrop**`` -> ``pyramiddrop``) or, without one, from the first words of its title.
Clashes get the year appended (``ppt-2022``), then a counter. Ids never change afterwards
and ids of removed papers stay reserved in ``retired_ids``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Collection, Optional

#: Papers implemented in the zoo: their catalog id is their method id (zoo.papers.REGISTRY key).
PINNED_IDS: dict[str, str] = {
    "2210.09461": "tome",
    "2202.07800": "evit",
    "2305.17328": "zero-tprune",
    "2312.01026": "token-fusion",
    "2310.01812": "ppt",
    "2311.03035": "gtp-vit",
    "2111.15667": "ats",
    "2303.17604": "tomesd",
    "2403.06764": "fastv",
    "2412.04467": "visionzip",
    "2412.01818": "fastervlm",
    "2410.04417": "sparsevlm",
    "2410.17247": "pyramiddrop",
    "2403.15388": "llava-prumerge",
    "2411.15024": "dycoke",
    "2412.16117": "prunevid",
    "2501.01986": "framefusion",
    "2407.15841": "slowfast-llava",
    "2503.11187": "fastvid",
    "2505.21334": "holitom",
    "2505.14454": "vidcom2",
    "2502.11494": "dart",
    "2503.02175": "divprune",
    "2409.17422": "gemfilter",
    "2405.16148": "pitome",
    "2306.16009": "a-tome",
    "2410.03007": "fastadasp",
    "2001.08950": "power-bert",
    "2501.00375": "dato",
    "2012.09852": "spatten",
    "2407.04147": "alpine",
}

MAX_ID_LENGTH = 40
_STOPWORDS = {"a", "an", "the", "of", "for", "in", "on", "to", "and", "via", "with", "by", "is", "are", "your"}


def _ascii(text: str) -> str:
    """ASCII transliteration: accents dropped, Greek letters spelled out (Σ -> sigma)."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if ch.isascii():
            out.append(ch)
        elif unicodedata.category(ch).startswith("L"):
            name = unicodedata.name(ch, "")
            if name.startswith("GREEK"):
                out.append(" " + name.split()[-1].lower() + " ")
        else:
            out.append(" ")
    return "".join(out)


def slugify(text: str, max_length: int = MAX_ID_LENGTH) -> str:
    """``'LLaVA-PruMerge'`` -> ``'llava-prumerge'``; cut at a word boundary below ``max_length``."""
    words = re.findall(r"[a-z0-9]+", _ascii(text).lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length and slug:
            break
        slug = candidate[:max_length]
    return slug or "paper"


def base_id(bold: Optional[str], title: str) -> str:
    """The id a paper would get without clashes."""
    if bold and slugify(bold) != "paper":
        return slugify(bold)
    words = [w for w in re.findall(r"[A-Za-z0-9]+", _ascii(title)) if w.lower() not in _STOPWORDS]
    return slugify(" ".join(words[:5]))


def allocate_id(base: str, taken: Collection[str], year: Optional[int] = None) -> str:
    """``base`` if free, else ``base-<year>``, else ``base-<year>-2``, ``-3``, ..."""
    if base not in taken:
        return base
    stem = f"{base}-{year}" if year is not None else base
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"
