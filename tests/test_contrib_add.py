"""`tokzoo add` end to end through the CLI, against recorded arXiv answers (no network)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import FakeArxiv, write_small_catalog
from zoo.catalog import load_catalog
from zoo.catalog.edit import HEADER
from zoo.cli import app
from zoo.contrib.add import AddRequest, plan_add
from zoo.contrib.catalog_edit import CatalogEditError, only_insertions

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return write_small_catalog(tmp_path / "catalog.yaml")


def _add(fake: FakeArxiv | None, catalog: Path, *args: str):
    extra = ["--arxiv-api", fake.query_url_format] if fake else []
    return CliRunner().invoke(app, ["add", *args, "--catalog", str(catalog), *extra])


def test_dry_run_prints_a_valid_diff_and_writes_nothing(catalog):
    before = catalog.read_text()
    with FakeArxiv() as fake:
        result = _add(fake, catalog, "https://arxiv.org/abs/2503.02175v1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert catalog.read_text() == before
    assert "+  - id: divprune" in result.output
    assert "+    venue: {name: CVPR, year: 2025, kind: conference}" in result.output
    assert "proposed from the arXiv comment 'Accepted to CVPR 2025'" in result.output
    assert "technique: pruning (proposed: title mentions 'Pruning')" in result.output
    assert "review them" in result.output and "nothing written" in result.output


def test_add_writes_the_entry_newest_first_in_its_year_keeping_everything_else(catalog):
    before = catalog.read_text()
    with FakeArxiv() as fake:
        result = _add(fake, catalog, "2503.02175")
    assert result.exit_code == 0, result.output
    after = catalog.read_text()
    assert only_insertions(before, after) and after.startswith(HEADER)
    cat = load_catalog(catalog)
    assert [p.id for p in cat.papers][:2] == ["divprune", "lvpruning"]
    paper = cat.get("divprune")
    assert paper.arxiv == "2503.02175" and paper.short_name == "DivPrune" and paper.year == 2025
    assert paper.venue.name == "CVPR" and paper.venue.year == 2025
    assert paper.technique == ["pruning"] and paper.family == ["vlm"] and paper.training_free is True
    assert paper.authors[0] == "Saeed Ranjbar Alvar"
    assert paper.zoo.status == "none"


def test_position_inside_a_year_follows_arxiv_ids(catalog):
    plan = plan_add(AddRequest(title="A Made-up Visual Token Pruning Method for Multimodal Large Language Models",
                               url="https://arxiv.org/abs/2406.01234", venue="arXiv", year=2024), catalog)
    assert plan.neighbours == ("visionzip", "fastv")
    assert plan.entry["arxiv"] == "2406.01234"


@pytest.mark.parametrize("given, existing, why", [
    ("https://arxiv.org/abs/2403.06764v2", "fastv", "same arXiv id 2403.06764"),
    ("arXiv:2210.09461", "tome", "same arXiv id 2210.09461"),
])
def test_duplicates_by_arxiv_id_are_refused_naming_the_entry(catalog, given, existing, why):
    before = catalog.read_text()
    with FakeArxiv() as fake:
        result = _add(fake, catalog, given)
    assert result.exit_code == 1
    assert f"entry {existing!r}" in result.output and why in result.output
    assert catalog.read_text() == before


def test_duplicate_titles_are_refused_after_normalisation(catalog):
    result = _add(None, catalog, "--title", "token merging -- your ViT, but FASTER!", "--url", "https://openreview.net/x",
                  "--venue", "ICLR 2023")
    assert result.exit_code == 1
    assert "entry 'tome'" in result.output and "same title" in result.output


def test_offline_says_so_and_offers_the_manual_form(catalog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    before = catalog.read_text()
    result = CliRunner().invoke(app, ["add", "2503.02175", "--catalog", str(catalog), "--timeout", "2",
                                      "--arxiv-api", f"http://127.0.0.1:{port}/api/query?{{}}"])
    assert result.exit_code == 1
    assert "could not fetch the arXiv metadata of 2503.02175" in result.output
    assert "Nothing was written" in result.output
    assert 'tokzoo add --title "<title>" --url https://arxiv.org/abs/2503.02175' in result.output
    assert catalog.read_text() == before


@pytest.mark.parametrize("given, message", [
    ("2503.0217x", "not an arXiv id"),
    ("2501.99999", "arXiv has no paper with id 2501.99999"),
])
def test_bad_or_unknown_ids_fail_clearly(catalog, given, message):
    with FakeArxiv() as fake:
        result = _add(fake, catalog, given)
    assert result.exit_code == 1 and message in result.output


def test_manual_form_requires_labels_it_cannot_propose(catalog):
    args = ["--title", "On the Nature of Things", "--url", "https://example.org/paper.pdf", "--venue", "TPAMI 2024"]
    result = _add(None, catalog, *args)
    assert result.exit_code == 1
    assert "tokzoo does not guess" in result.output and "--technique (pruning, merging" in result.output
    ok = _add(None, catalog, *args, "--modality", "image", "--technique", "pruning,merging", "--family", "vit",
              "--not-training-free")
    assert ok.exit_code == 0, ok.output
    paper = load_catalog(catalog).get("nature-things")
    assert paper.arxiv is None and paper.venue.kind == "journal" and paper.year == 2024
    assert paper.technique == ["pruning", "merging"] and paper.training_free is False


def test_manual_preprint_needs_a_year_and_unknown_terms_are_named(catalog):
    base = ["--title", "Visual Token Pruning Again", "--url", "https://example.org/p"]
    assert "--year is required" in _add(None, catalog, *base, "--venue", "arXiv").output
    bad = _add(None, catalog, *base, "--venue", "arXiv", "--year", "2024", "--technique", "prunning")
    assert bad.exit_code == 1 and "--technique: unknown term(s) prunning; allowed: pruning, merging" in bad.output
    venue = _add(None, catalog, *base, "--venue", "CVPR")
    assert venue.exit_code == 1 and "needs a year" in venue.output


def test_an_entry_the_schema_rejects_is_never_written(catalog):
    before = catalog.read_text()
    with FakeArxiv() as fake:
        result = _add(fake, catalog, "2503.02175", "--code", "https://github.com/x y")
    assert result.exit_code == 1
    assert "would not validate, nothing was written" in result.output
    assert "field 'links.code'" in result.output and "https" in result.output
    assert catalog.read_text() == before


def test_a_catalog_changed_meanwhile_is_not_overwritten(catalog):
    with FakeArxiv() as fake:
        plan = plan_add(AddRequest(arxiv="2503.02175"), catalog, fake.client().fetch_one)
    catalog.write_text(catalog.read_text() + "# edited by someone else\n")
    with pytest.raises(CatalogEditError, match="changed on disk"):
        plan.write()


@pytest.mark.skipif(not (REPO / "catalog.yaml").is_file(), reason="catalog.yaml not written yet")
def test_add_on_a_copy_of_the_real_catalog_only_inserts(tmp_path):
    """DivPrune is in the real catalog since the 2025-03 list: add it again to a copy without it."""
    copy = tmp_path / "catalog.yaml"
    text = (REPO / "catalog.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: divprune\n")
    end = text.index("\n  - id: ", start + 1) + 1
    copy.write_text(text[:start] + text[end:], encoding="utf-8")
    with FakeArxiv() as fake:
        plan = plan_add(AddRequest(arxiv="2503.02175"), copy, fake.client().fetch_one)
        duplicate = _add(fake, copy, "2403.06764")
    assert only_insertions(plan.old_text, plan.new_text)
    assert plan.entry["section_year"] == 2025
    assert duplicate.exit_code == 1 and "entry 'fastv'" in duplicate.output
