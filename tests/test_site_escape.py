"""Escaping of catalog text for Markdown, JSON-in-script and links; badges; small renderers."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from xml.etree import ElementTree

import markdown
import pytest

from zoo.site.badges import Badge, render_svg, standard_badges
from zoo.site.contributing import rewrite_repo_links
from zoo.site.escape import json_for_script, md_link, md_text, safe_url
from zoo.site.pages_method import fence, inline_md

HOSTILE = [
    "<script>alert(1)</script>",
    "</script><script>x()</script>",
    "a | b | c",
    "*bold* _it_ __x__ `code` ``two``",
    "[link](javascript:alert(1)) ![img](x.png)",
    "&amp; &lt; &#60; &#x3c; & < >",
    "# not a heading",
    "> not a quote",
    "1. not a list",
    "- not a list either",
    "{: .attr #id } {.x}",
    "back\\slash \\| \\*",
    "<!-- comment --> <![CDATA[x]]>",
    "Plug-and-Play (1/2) tokens! 3.5x + 2 = 5.5",
    "LLaVA-1.5: 576 → 64 tokens — ✓ ünïcödé",
    "a\tb\nc",
]

# The extensions of site/mkdocs.yml that act on inline text.
EXTENSIONS = ["tables", "attr_list", "md_in_html", "admonition", "toc"]


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.tags = "", []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text += data


def _render(md: str) -> _Text:
    parser = _Text()
    parser.feed(markdown.markdown(md, extensions=EXTENSIONS))
    return parser


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_renders_literally_in_a_paragraph(text):
    out = _render(md_text(text))
    assert out.text.strip() == " ".join(text.split())
    assert out.tags == ["p"]


@pytest.mark.parametrize("text", HOSTILE)
def test_md_text_renders_literally_in_a_table_cell(text):
    out = _render(f"| a | b |\n| -- | -- |\n| {md_text(text)} | end |\n")
    assert out.text.split() == ["a", "b", *text.split(), "end"]
    assert "script" not in out.tags and "img" not in out.tags and out.tags.count("td") == 2


def test_md_link_only_links_http_urls():
    assert md_link("x", "javascript:alert(1)") == "x"
    assert md_link("x", "data:text/html,hi") == "x"
    assert md_link("x", "https://example.org/a b)c") == "[x](https://example.org/a%20b%29c)"
    assert safe_url("https://arxiv.org/abs/2403.06764") == "https://arxiv.org/abs/2403.06764"
    assert safe_url("//evil.example") is None


def test_json_for_script_cannot_close_the_script_element():
    data = {"title": "</script><script>alert(1)</script><!-- \u2028", "n": [1, 2]}
    text = json_for_script(data)
    assert "</" not in text and "<!--" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_badges_are_valid_svg_and_escape_their_text():
    svg = render_svg("a<b", "c&d", "#000")
    root = ElementTree.fromstring(svg)
    assert root.get("aria-label") == "a<b: c&d"
    for badge in standard_badges():
        ElementTree.fromstring(badge.svg())
    assert Badge("repro", "not run").filename == "repro-not-run.svg"
    assert Badge("repro", "reproduced").colour != Badge("repro", "deviates").colour


def test_fence_outlasts_backticks_in_content():
    block = fence("a ``` b ```` c", "text")
    assert block.startswith("`````text\n")
    out = _render_fenced(block)
    assert "a ``` b ```` c" in out


def _render_fenced(md: str) -> str:
    import html

    return html.unescape(markdown.markdown(md, extensions=["pymdownx.superfences"]))


def test_inline_md_renders_code_and_emphasis_and_escapes_the_rest():
    out = _render(inline_md("keep ``x < y`` and *this* `z`, **bold** but 2*576 4*300 and a ** b <b>x</b>"))
    assert out.text == "keep x < y and this z, bold but 2*576 4*300 and a ** b <b>x</b>"
    assert out.tags == ["p", "code", "em", "code", "strong"]


def test_docstring_lists_paragraphs_and_literal_blocks_render_as_markdown():
    from zoo.site.docstring import docstring_md

    doc = (
        "Title line.\n\n"
        "Steps, as the paper's algorithm box::\n\n"
        "    x = f(y)  # *not* emphasis\n\n"
        "1. **Raters** (once): the text tokens\n"
        "   whose relevance is *above* average.\n"
        "2. **Sparsify**: ``top-k`` of each layer.\n\n"
        "- a bullet with `code`\n"
        "- another one, continued\n"
        "  on a second line\n\n"
        "Parameters\n----------\n\n"
        "See https://github.com/x/y/blob/main/a.py.\n"
    )
    html_out = markdown.markdown(docstring_md(doc), extensions=EXTENSIONS + ["pymdownx.superfences"])
    assert "<ol>" in html_out and html_out.count("<li>") == 4 and "<ul>" in html_out
    assert "<strong>Raters</strong>" in html_out and "<em>above</em>" in html_out
    assert "<code>top-k</code>" in html_out and "whose relevance" in html_out.split("</li>")[0]
    assert "<strong>Parameters</strong>" in html_out and "-----" not in html_out
    assert '<a href="https://github.com/x/y/blob/main/a.py">' in html_out
    assert "x = f(y)  # *not* emphasis" in html_out and "<em>not</em>" not in html_out
    assert "::" not in html_out and "**" not in html_out.replace("# *not* emphasis", "")


def test_contributing_repo_links_become_paths():
    text = "See [the catalog](catalog.yaml), [docs](https://x.org) and [top](#top).\n```\n[a](b)\n```\n"
    out = rewrite_repo_links(text)
    assert "the catalog (`catalog.yaml`)" in out
    assert "[docs](https://x.org)" in out and "[top](#top)" in out
    assert "[a](b)" in out  # code blocks untouched


def test_support_page_and_runs_on_render_every_cell_string_literally():
    from zoo.site.data import SiteData
    from zoo.site.pages_support import runs_on_section, support_page

    evil = HOSTILE[0] + " " + HOSTILE[1] + " " + HOSTILE[4]
    cells = [
        {"method": "tome", "adapter": "timm-vit", "runtime": "encoder", "model_classes": [evil],
         "serves": evil, "status": "depends", "reason": evil},
        {"method": "tome", "adapter": "a|b", "runtime": "encoder", "model_classes": [],
         "serves": "x", "status": "no", "reason": HOSTILE[2]},
        {"method": evil, "adapter": evil, "runtime": evil, "model_classes": [], "serves": evil,
         "status": "depends", "reason": evil},
        {"method": "broken"},  # malformed cells are left out
    ]
    data = SiteData(papers=[], support_matrix=cells)
    for md in (support_page(data), runs_on_section("tome", data, "methods/tome.md")):
        out = _render(md)
        assert "script" not in out.tags and "img" not in out.tags
        assert "[link](javascript:alert(1))" in out.text  # a Markdown link in the data stays text
        assert HOSTILE[0] in out.text and HOSTILE[2] in out.text
    assert "broken" not in support_page(data)
    assert runs_on_section("tome", SiteData(papers=[], support_matrix=None), "methods/tome.md") == ""


def test_code_span_text_makes_no_link_image_or_emphasis():
    """Python-Markdown parses inline patterns inside an inline <code> element: a hostile string
    shown as code became a live javascript: link."""
    import markdown

    from zoo.site.markdown import code_span

    out = markdown.markdown("x " + code_span("[x](javascript:alert(1)) ![i](http://e/x.png) *e* <b>"))
    assert "<a " not in out and "<img" not in out and "<em>" not in out and "<b>" not in out
    assert "javascript:alert(1)" in out  # shown as text
