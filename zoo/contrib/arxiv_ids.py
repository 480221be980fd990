"""arXiv identifiers: accept what contributors paste, return the versionless id.

Accepted forms: ``2403.06764``, ``2403.06764v2``, ``arXiv:2403.06764``,
``https://arxiv.org/abs/2403.06764v1``, ``https://arxiv.org/pdf/2403.06764.pdf``,
``http://export.arxiv.org/abs/...`` and old-style ids such as ``hep-th/9901001`` or
``math.GT/0309136``. Anything else raises :class:`InvalidArxivId` naming the input and the
accepted forms, so a malformed id never reaches the API (one malformed id fails a whole
batch request there).
"""

from __future__ import annotations

import re

NEW_STYLE = re.compile(r"^(?P<id>\d{4}\.\d{4,5})(?P<version>v\d+)?$")
OLD_STYLE = re.compile(r"^(?P<id>[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?P<version>v\d+)?$")
_URL = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<rest>[^?#]+?)(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)

ACCEPTED_FORMS = (
    "a new-style id like 2403.06764 (optionally with a version, v2), an old-style id like "
    "hep-th/9901001, 'arXiv:2403.06764', or a URL https://arxiv.org/abs/<id> or /pdf/<id>"
)


class InvalidArxivId(ValueError):
    """Raised for text that is not an arXiv identifier or arXiv URL."""

    def __init__(self, text: str, reason: str = "") -> None:
        self.text = text
        detail = f" ({reason})" if reason else ""
        super().__init__(f"not an arXiv id: {text!r}{detail}; expected {ACCEPTED_FORMS}")


def split_version(text: str) -> tuple[str, str | None]:
    """Return ``(versionless_id, version or None)`` for a bare id; raises :class:`InvalidArxivId`."""
    bare = text.strip()
    for pattern in (NEW_STYLE, OLD_STYLE):
        m = pattern.match(bare)
        if m:
            version = m.group("version")
            _check_new_style_month(m.group("id"), text)
            return m.group("id"), version[1:] if version else None
    raise InvalidArxivId(text)


def _check_new_style_month(arxiv_id: str, text: str) -> None:
    if NEW_STYLE.match(arxiv_id):
        yymm, number = arxiv_id.split(".")
        month = int(yymm[2:])
        if not 1 <= month <= 12:
            raise InvalidArxivId(text, f"month {yymm[2:]} of YYMM is not 01..12")
        # Ids from 2015 on have 5 digits after the dot, earlier ones 4.
        year = int(yymm[:2])
        expected = 5 if year >= 15 else 4
        if len(number) != expected:
            raise InvalidArxivId(text, f"ids from 20{yymm[:2]} have {expected} digits after the dot")


def normalize_arxiv_id(text: str) -> str:
    """Return the versionless arXiv id of an id or arXiv URL (see module docstring)."""
    candidate = text.strip()
    if not candidate:
        raise InvalidArxivId(text, "empty")
    m = _URL.match(candidate)
    if m:
        candidate = m.group("rest")
    elif candidate.lower().startswith("arxiv:"):
        candidate = candidate[len("arxiv:"):].strip()
    return split_version(candidate)[0]


def is_arxiv_id(text: str) -> bool:
    """True when :func:`normalize_arxiv_id` accepts ``text``."""
    try:
        normalize_arxiv_id(text)
    except InvalidArxivId:
        return False
    return True


def abs_url(arxiv_id: str) -> str:
    """The canonical https abstract page of a versionless id."""
    return f"https://arxiv.org/abs/{arxiv_id}"
