"""Escaping of catalog strings for the three places the site shows them.

Catalog text is data, never markup: a title such as ``<script>alert(1)</script>`` or
``a | b *c*`` must render literally.

- :func:`md_text` escapes text for Markdown (table cells, headings, paragraphs): HTML
  special characters become entities and Markdown punctuation is backslash-escaped.
- :func:`md_link` builds a Markdown link from escaped text and a checked URL (only
  ``http(s)`` URLs become links; anything else is shown as plain text).
- :func:`json_for_script` serialises data for a ``<script type="application/json">``
  element so that no ``</script>`` (or ``<!--``) can end the element early;
  :func:`json_for_attribute` for a ``data-json`` attribute (what the catalog page uses).

The browser side (``site/assets/catalog.js``) only ever assigns data with ``textContent``.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

# Python-Markdown's escapable characters (its ESCAPED_CHARS plus "|" from the tables
# extension); each is backslash-escaped. "<", ">" and "&" become entities first. The site
# enables no extension that gives other characters a meaning (no emoji, mark, tilde, math).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")


def md_text(value: Any) -> str:
    """Escape ``value`` (converted with ``str``) so Markdown renders it as literal text.

    Newlines and tabs become spaces (a table cell is one line). ``None`` becomes ``""``.
    """
    if value is None:
        return ""
    text = " ".join(str(value).split())
    text = html.escape(text, quote=False)  # & < >  ->  entities
    # ">" is now "&gt;"; escaping the Markdown punctuation cannot break an entity because
    # the entities contain only letters, "&" and ";".
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_url(url: Any) -> str | None:
    """Return ``url`` percent-encoded for a Markdown link target, or ``None`` if not http(s).

    Characters that could end a Markdown link target or an HTML attribute (spaces, quotes,
    brackets, parentheses, angle brackets) are percent-encoded.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe="/:?#[]@!$&'*+,;=%-._~").replace("'", "%27").replace("[", "%5B").replace("]", "%5D")


def md_link(text: Any, url: Any) -> str:
    """A Markdown link ``[text](url)`` with escaped text; plain escaped text if the URL is unsafe."""
    target = safe_url(url)
    label = md_text(text)
    if target is None:
        return label
    return f"[{label}]({target})"


def html_text(value: Any) -> str:
    """Escape ``value`` for HTML text or a double-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON text safe to place inside ``<script type="application/json">...</script>``.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026`` (still valid
    JSON, decoded by ``JSON.parse``), so the data can never close the element or open a
    comment; U+2028/U+2029 are escaped too.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def json_for_attribute(data: Any) -> str:
    """JSON text for a double-quoted HTML attribute (``data-json="..."``), every HTML special
    character escaped (``&``, ``<``, ``>``, ``"``, ``'``); ``getAttribute`` returns the JSON.

    The catalog's data travels this way rather than in a ``<script type="application/json">``:
    MkDocs-material's instant navigation re-creates inline scripts without their ``type`` and
    would run the JSON as JavaScript.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return html.escape(text, quote=True)
