"""Docstrings (reST-flavoured plain text, as the method modules write them) -> safe Markdown.

What is rendered: paragraphs; bulleted (``-``, ``*``, ``+``) and numbered (``1.``, ``2)``)
lists with hanging indentation, one level of nesting; ``::`` literal blocks and indented
blocks as code; ``Title`` + ``-----`` underlines as a bold line; inline ````code````, ```code```,
``**strong**``, ``*emphasis*`` and bare ``https://`` links. Everything else is literal text:
HTML and Markdown punctuation are escaped, so a docstring can never inject markup, and a
``*`` between two words (``2*576``) stays an asterisk.
"""

from __future__ import annotations

import html
import re

from zoo.site.escape import md_link

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_UNDERLINE = re.compile(r"^\s*([-=~^])\1{2,}\s*$")
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|obj|exc|const|ref):(?=`)")
_URL = re.compile(r"https?://[^\s<>()\"'`]+[^\s<>()\"'`.,;:!?]")


def fence(text: str, lang: str = "") -> str:
    """A fenced code block that ``text`` cannot close (fence longer than any backtick run)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def _plain(text: str) -> str:
    """Literal text for Markdown: whitespace runs become one space (ends kept), markup escaped."""
    text = re.sub(r"\s+", " ", text)
    text = html.escape(text, quote=False)
    # entities contain only letters, digits, '#', '&' and ';': escaping punctuation keeps them intact
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text: str) -> str:
    return f"<code>{html.escape(text, quote=False).replace('|', '&#124;')}</code>"


def _closing_star(text: str, start: int, marker: str) -> int:
    """Index of the ``marker`` closing an emphasis opened before ``start`` (-1 if none)."""
    pos = start
    while True:
        pos = text.find(marker, pos)
        if pos < 0:
            return -1
        before = text[pos - 1] if pos > 0 else " "
        after = text[pos + len(marker)] if pos + len(marker) < len(text) else " "
        if not before.isspace() and not (after.isalnum() or after == "*") and pos > start:
            return pos
        pos += 1


def inline_md(text: str) -> str:
    """Inline docstring text -> Markdown/HTML: code spans, strong/emphasis, links; the rest literal."""
    text = _ROLE.sub("", text)
    out: list[str] = []
    plain_start = 0
    i = 0
    n = len(text)

    def flush(upto: int) -> None:
        if upto > plain_start:
            out.append(_plain(text[plain_start:upto]))

    while i < n:
        ch = text[i]
        if ch == "`":
            ticks = 2 if text.startswith("``", i) else 1
            end = text.find("`" * ticks, i + ticks)
            if end > i + ticks:
                flush(i)
                out.append(_code(text[i + ticks:end]))
                i = plain_start = end + ticks
                continue
        elif ch == "*":
            marker = "**" if text.startswith("**", i) else "*"
            before = text[i - 1] if i > 0 else " "
            after = text[i + len(marker)] if i + len(marker) < n else " "
            if not before.isalnum() and before != "*" and not after.isspace() and after != "*":
                end = _closing_star(text, i + len(marker), marker)
                if end > 0:
                    flush(i)
                    tag = "strong" if marker == "**" else "em"
                    out.append(f"<{tag}>{inline_md(text[i + len(marker):end])}</{tag}>")
                    i = plain_start = end + len(marker)
                    continue
        elif ch == "h" and text.startswith(("http://", "https://"), i):
            m = _URL.match(text, i)
            if m and (i == 0 or not text[i - 1].isalnum()):
                flush(i)
                out.append(md_link(m.group(0), m.group(0)))
                i = plain_start = m.end()
                continue
        i += 1
    flush(n)
    return "".join(out).strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _list_md(lines: list[str]) -> str:
    """A list block (first line is an item) -> Markdown list (nested items indented 4 spaces)."""
    items: list[tuple[int, str, list[str]]] = []  # (level, marker, text lines)
    base = _indent(lines[0])
    levels: list[int] = [base]
    for line in lines:
        m = _ITEM.match(line)
        if m and (not items or _indent(line) <= levels[-1] or _indent(line) >= levels[-1] + 2):
            ind = _indent(line)
            while len(levels) > 1 and ind < levels[-1]:
                levels.pop()
            if ind > levels[-1]:
                levels.append(ind)
            level = min(len(levels) - 1, 1)
            marker = m.group(2)
            items.append((level, marker, [m.group(3)]))
        elif items:
            items[-1][2].append(line.strip())
        else:
            return _paragraph(lines)
    out = []
    for level, marker, text in items:
        bullet = f"{marker[:-1]}." if marker[0].isdigit() else "-"
        out.append("    " * level + f"{bullet} {inline_md(' '.join(text))}")
    return "\n".join(out)


def _paragraph(lines: list[str]) -> str:
    return inline_md(" ".join(ln.strip() for ln in lines))


def _blocks(doc: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in doc.splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def docstring_md(doc: str) -> str:
    """Render a docstring as Markdown (see the module docstring for what is understood)."""
    if not doc or not doc.strip():
        return ""
    out: list[str] = []
    literal_next = False
    para_indent = 0
    for block in _blocks(doc.expandtabs(4)):
        indent = min(_indent(ln) for ln in block)
        if literal_next and indent > para_indent or (not _ITEM.match(block[0]) and indent >= para_indent + 4 and out):
            dedented = "\n".join(ln[indent:] for ln in block)
            out.append(fence(dedented).rstrip("\n"))
            literal_next = False
            continue
        literal_next = False
        para_indent = indent
        if len(block) == 2 and _UNDERLINE.match(block[1]) and not _ITEM.match(block[0]):
            out.append(f"<strong>{inline_md(block[0].strip())}</strong>")
            continue
        if _ITEM.match(block[0]):
            if out and out[-1].startswith(("- ", "1", "2", "3", "4", "5", "6", "7", "8", "9")) and \
                    _ITEM.match(out[-1].splitlines()[0]):
                out.append("<!-- -->")  # two lists in a row stay two lists
            out.append(_list_md(block))
            continue
        lines = list(block)
        if lines[-1].endswith("::"):
            literal_next = True
            head = lines[-1][:-2].rstrip()
            lines[-1] = head + ":" if head and not head.endswith(" ") else head
            if not " ".join(lines).strip():
                continue
        out.append(_paragraph(lines))
    return "\n\n".join(out) + "\n"
