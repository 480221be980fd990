"""Offline SVG status badges: one flat two-part style for code, zoo status and repro status.

A badge is ``label | message`` with the message part coloured by meaning. Widths come
from a small per-character table (Verdana-like metrics at 11px), so no font or network
is needed at build time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from zoo.vocab import REPRO_STATUS, ZOO_STATUS

GREEN = "#2e7d32"
LIGHT_GREEN = "#7cb342"
BLUE = "#1565c0"
YELLOW = "#b28704"
ORANGE = "#e65100"
RED = "#c62828"
GREY = "#757575"
LABEL_GREY = "#455a64"
INDIGO = "#3949ab"

# message -> colour, per badge kind. A value not listed falls back to GREY.
COLOURS: dict[str, dict[str, str]] = {
    "code": {"available": GREEN, "none": GREY},
    "zoo": {"implemented": BLUE, "planned": YELLOW, "none": GREY},
    "repro": {
        "reproduced": GREEN,
        "partial": LIGHT_GREEN,
        "deviates": ORANGE,
        "failed": RED,
        "not run": GREY,
        "skipped": GREY,
        "inconclusive": YELLOW,
        "analytic only": INDIGO,
        "reproduced, no accuracy claim": LIGHT_GREEN,
    },
}

_NARROW = set("fijlrt.,:;!|'I ()[]")
_WIDE = set("mwMW@%")


def text_width(text: str) -> float:
    """Approximate rendered width in pixels of ``text`` at 11px Verdana-like metrics."""
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 3.9
        elif ch in _WIDE:
            width += 10.0
        elif ch.isupper() or ch.isdigit():
            width += 7.4
        else:
            width += 6.6
    return width


@dataclass(frozen=True)
class Badge:
    """One badge: ``kind`` (code | zoo | repro) and its ``value``."""

    kind: str
    value: str
    #: colour the message like this repro word instead of by ``value`` (per-kind badges: "2/3")
    tone: str = ""

    @property
    def colour(self) -> str:
        if self.tone:
            return COLOURS["repro"].get(self.tone, GREY)
        return COLOURS.get(self.kind, {}).get(self.value, GREY)

    @property
    def filename(self) -> str:
        """File name under the site's badge folder, e.g. ``repro-not-run.svg``."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.value.lower()).strip("-") or "unknown"
        kind = re.sub(r"[^a-z0-9]+", "-", self.kind.lower()).strip("-") or "badge"
        tone = "-" + re.sub(r"[^a-z0-9]+", "-", self.tone.lower()).strip("-") if self.tone else ""
        return f"{kind}-{slug}{tone}.svg"

    def svg(self) -> str:
        """The badge as a standalone SVG document."""
        return render_svg(self.kind, self.value, self.colour)


def render_svg(label: str, message: str, colour: str) -> str:
    """Render a flat ``label | message`` badge; both strings are XML-escaped."""
    pad = 6
    lw = round(text_width(label) + 2 * pad)
    mw = round(text_width(message) + 2 * pad)
    total = lw + mw
    lab, msg = xml_escape(label), xml_escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{lab}: {msg}">'
        f"<title>{lab}: {msg}</title>"
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)">'
        f'<rect width="{lw}" height="20" fill="{LABEL_GREY}"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{colour}"/>'
        f"</g>"
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" '
        f'font-size="11">'
        f'<text x="{lw / 2:.1f}" y="14">{lab}</text>'
        f'<text x="{lw + mw / 2:.1f}" y="14">{msg}</text>'
        f"</g></svg>\n"
    )


def standard_badges() -> list[Badge]:
    """Every badge the site can show for the closed vocabularies."""
    badges = [Badge("code", "available"), Badge("code", "none")]
    badges += [Badge("zoo", status) for status in ZOO_STATUS]
    badges += [Badge("repro", status) for status in REPRO_STATUS]
    return badges
