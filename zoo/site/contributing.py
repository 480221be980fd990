"""The Contributing page: the repository's CONTRIBUTING.md when present, else the site's own page.

CONTRIBUTING.md is written for GitHub, so its links to repository files (``catalog.yaml``,
``zoo/papers/``) do not exist inside the site; they are shown as code paths instead of
broken links. Absolute URLs and in-page anchors are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _rewrite_link(match: re.Match[str]) -> str:
    bang, text, target = match.group(1), match.group(2), match.group(3)
    if re.match(r"^(https?:|mailto:|#)", target):
        return match.group(0)
    if bang:  # a repository image: not part of the site
        return text
    return f"{text} (`{target}`)" if text.strip("` ") != target else f"`{target}`"


def rewrite_repo_links(markdown: str) -> str:
    """Replace links to repository-relative paths by the path in code, outside code blocks."""
    out, in_fence = [], False
    for line in markdown.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        out.append(line if in_fence else _LINK.sub(_rewrite_link, line))
    return "".join(out)


def contributing_page(root: Path) -> str:
    source = root / "CONTRIBUTING.md"
    if source.is_file():
        text = rewrite_repo_links(source.read_text(encoding="utf-8"))
        return text + "\n\n---\n\nThis page is the repository's `CONTRIBUTING.md`.\n"
    return (root / "site" / "pages" / "contributing.md").read_text(encoding="utf-8")
