"""Hostile catalog content (issue 17): alias bombs, deep nesting, huge values, control characters,
BibTeX injection through links, a tampered parse cache. Each case fails cleanly and fast: a
line-numbered issue, never a hang, a traceback or raw escape sequences on the terminal."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog_fixtures import FIXTURE_YAML, private_cache, write_catalog  # noqa: F401
from zoo.catalog import cache as catalog_cache
from zoo.catalog import load_catalog, validate_text
from zoo.catalog.bibtex import paper_bibtex
from zoo.catalog.formats import render_csv, render_table
from zoo.catalog.schema import Paper
from zoo.cli import app

ROOT = Path(__file__).resolve().parent.parent

#: the classic "billion laughs": 9 levels of 9 aliases, about 540 bytes, 9**9 strings if expanded
ALIAS_BOMB = "\n".join([
    "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]",
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]",
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]",
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]",
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]",
    "schema_version: 2",
    "papers: [{id: bomb, title: *i}]",
]) + "\n"


def _tokzoo(*args: str, catalog: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "TOKZOO_CACHE_DIR": "off", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "zoo", *args, "--catalog", str(catalog)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_alias_bomb_is_refused_at_once(tmp_path):
    assert len(ALIAS_BOMB) < 600
    start = time.monotonic()
    parsed, issues = validate_text(ALIAS_BOMB)
    assert parsed is None and len(issues) == 1 and time.monotonic() - start < 2
    assert "anchors and aliases" in issues[0].message and issues[0].line == 1
    path = write_catalog(tmp_path, ALIAS_BOMB)
    for command in (["validate"], ["list"], ["show", "bomb"]):
        result = _tokzoo(*command, catalog=path)  # used to hang, expanding 9**9 values
        assert result.returncode == 1, result.stderr
        assert "anchors and aliases" in (result.stdout + result.stderr) and "Traceback" not in result.stderr


def test_alias_in_an_otherwise_valid_catalog_is_refused():
    text = FIXTURE_YAML.replace("    modality: [image]\n", "    modality: &m [image]\n", 1).replace(
        "    modality: [audio]\n", "    modality: *m\n")
    issues = validate_text(text)[1]
    assert len(issues) == 1 and "anchors and aliases" in issues[0].message


def test_deep_nesting_and_huge_values_give_short_messages():
    deep = "schema_version: 2\npapers: " + "[" * 900 + "]" * 900 + "\n"
    issues = validate_text(deep)[1]
    assert issues and all(len(str(i)) < 2000 for i in issues)
    huge = FIXTURE_YAML.replace("modality: [text]", "modality: [" + "x" * 1_000_000 + "]")
    issues = validate_text(huge)[1]
    assert len(issues) == 1 and "unknown term" in issues[0].message and len(str(issues[0])) < 1000
    nested = FIXTURE_YAML.replace("short_name: Locret", "short_name: " + "[" * 50 + "1" + "]" * 50)
    issues = validate_text(nested)[1]
    assert issues and all(len(str(i)) < 1000 for i in issues)


@pytest.mark.parametrize("field, old, new", [
    ("title", 'title: "Token Pooling in Vision Transformers"', 'title: "Token Pooling\\e[2J\\e[31m in ViTs"'),
    ("short_name", "short_name: Locret", 'short_name: "Loc\\u202eterc"'),
    ("links.paper", "paper: https://arxiv.org/abs/2410.01805", 'paper: "https://arxiv.org/abs/2410.01805\\e]8;;x\\a"'),
    ("venue.name", "{name: TPAMI, year: 2025, kind: journal}", '{name: "TPAMI\\e[5m", year: 2025, kind: journal}'),
])
def test_control_characters_are_rejected(field, old, new):
    assert old in FIXTURE_YAML
    issues = validate_text(FIXTURE_YAML.replace(old, new))[1]
    assert len(issues) == 1 and issues[0].field == field
    assert "control character" in issues[0].message and "U+" in issues[0].message
    assert "\x1b" not in str(issues[0]) or "'" in str(issues[0])  # shown escaped (repr), never raw


def test_authors_with_control_characters_or_pasted_lists_are_rejected():
    text = FIXTURE_YAML.replace("    short_name: Locret\n", "    short_name: Locret\n    authors: [Ann Lee, \"Bob\\e[2J Ray\"]\n")
    assert "control character" in validate_text(text)[1][0].message
    text = FIXTURE_YAML.replace("    short_name: Locret\n", "    short_name: Locret\n    authors: [Ann Lee and Bob Ray]\n")
    assert "one full name per list item" in validate_text(text)[1][0].message


def _hostile_paper() -> Paper:
    """A paper whose strings carry escape sequences, built without validation (as a corrupt
    cache or a third-party caller could): output must still never print them."""
    base = load_catalog(write_catalog(Path(__import__("tempfile").mkdtemp()))).get("fastv")
    return base.model_copy(update={
        "title": "Evil\x1b[2J\x1b[31m title", "short_name": "Ev\x1b]0;pwned\x07il", "authors": ["Ann\x1b[8m Lee"],
        "links": base.links.model_copy(update={"paper": "https://x.org/}},@misc{injected, title={owned}}"}),
    })


def test_control_characters_are_stripped_on_output():
    paper = _hostile_paper()
    from zoo.cli.catalog_cmds import _show_text

    for text in (render_table([paper], 120), render_csv([paper]), paper_bibtex(paper), _show_text(paper)):
        assert "\x1b" not in text and "\x07" not in text
    assert "Evil title" in render_table([paper], 200)


def test_bibtex_links_cannot_start_an_entry():
    issues = validate_text(FIXTURE_YAML.replace("paper: https://arxiv.org/abs/2410.01805",
                                                "paper: 'https://x.org/}},@misc{injected, title={x}}'"))[1]
    assert len(issues) == 1 and issues[0].field == "links.paper" and "percent-encode" in issues[0].message
    entry = paper_bibtex(_hostile_paper())
    assert entry.count("@") == 2  # '@inproceedings{' and the '@' kept inside the (encoded) URL
    assert entry.startswith("@inproceedings{fastv,") and "@misc{" not in entry
    depth = 0
    for ch in entry:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert "url = {https://x.org/%7D%7D,@misc%7Binjected,%20title=%7Bowned%7D%7D}" in entry


# ------------------------------------------------------------------ the parse cache


def _cached(path: Path) -> tuple[Path, dict, str]:
    load_catalog(path)
    target = catalog_cache.cache_file(path)
    head, body = target.read_text(encoding="utf-8").split("\n", 1)
    return target, json.loads(head), body


def _show_title(path: Path) -> str:
    result = CliRunner().invoke(app, ["show", "locret", "--catalog", str(path), "-F", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["paper"]["title"]


def test_a_modified_cache_is_not_believed(tmp_path):
    path = write_catalog(tmp_path)
    true_title = load_catalog(path).get("locret").title
    target, header, body = _cached(path)
    forged = body.replace("Locret: Enhancing Eviction", "FORGED: Enhancing Eviction")
    assert forged != body
    target.write_text(json.dumps(header) + "\n" + forged, encoding="utf-8")
    assert _show_title(path) == true_title  # the payload digest does not match: re-validated from the YAML


def test_a_cache_forged_with_a_matching_digest_is_still_validated(tmp_path):
    path = write_catalog(tmp_path)
    true_title = load_catalog(path).get("locret").title
    target, header, body = _cached(path)
    forged = body.replace("Locret: Enhancing Eviction", "Locret\\u001b[2J: Enhancing Eviction")
    header["payload_sha256"] = hashlib.sha256(forged.encode("utf-8")).hexdigest()
    target.write_text(json.dumps(header) + "\n" + forged, encoding="utf-8")
    assert catalog_cache.read(path, header["sha256"]) is None  # what the validator rejects never comes from a cache
    assert _show_title(path) == true_title


def test_a_cache_of_other_content_is_not_used(tmp_path):
    path = write_catalog(tmp_path)
    target, header, body = _cached(path)
    path.write_text(FIXTURE_YAML.replace("Locret: Enhancing", "Locret v2: Enhancing"), encoding="utf-8")
    assert _show_title(path).startswith("Locret v2")
