"""`tokzoo add`'s metadata sources: Hugging Face Papers next to arXiv (recorded answers), and how
both clients cope with hostile or broken servers (gzip bombs, trickling bodies, HTTP 400, pages
that are not feeds). Everything is served on 127.0.0.1 (tests/contrib_fakes.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import FakeArxiv, FakeHF, write_small_catalog
from zoo.catalog import load_catalog
from zoo.cli import app
from zoo.contrib.arxiv_client import ArxivUnavailable
from zoo.contrib.hf_papers import HFPaperNotFound, HFPapersUnavailable, paper_from_json


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return write_small_catalog(tmp_path / "catalog.yaml")


def _add(catalog: Path, *args: str, arxiv: FakeArxiv | None = None, hf: FakeHF | None = None):
    extra = ["--arxiv-api", arxiv.query_url_format] if arxiv else ["--arxiv-api", "http://127.0.0.1:9/api/query?{}"]
    extra += ["--hf-api", hf.api_url_format] if hf else ["--no-hf"]
    return CliRunner().invoke(app, ["add", *args, "--catalog", str(catalog), *extra])


# ------------------------------------------------------------------ Hugging Face Papers (recorded)


def test_hf_client_reads_authors_abstract_and_code_link():
    with FakeHF() as fake:
        paper = fake.client().fetch_one("arXiv:2503.02175v2")
        with pytest.raises(HFPaperNotFound):
            fake.client().fetch_one("2401.00001")
    assert fake.requests == ["2503.02175", "2401.00001"]  # versionless ids are asked for
    assert paper.title.startswith("DivPrune: Diversity-based Visual Token Pruning")
    assert paper.authors == ("Saeed Ranjbar Alvar", "Gursimran Singh", "Mohammad Akbari", "Yong Zhang")
    assert paper.github == "https://github.com/vbdi/divprune" and paper.project is None
    assert paper.published.isoformat() == "2025-03-04" and "max-min diversity" in paper.abstract
    assert paper.page_url == "https://huggingface.co/papers/2503.02175"


def test_hf_answer_that_is_not_a_paper_or_has_unsafe_links():
    with pytest.raises(HFPapersUnavailable, match="not a paper record"):
        paper_from_json(["a", "list"], "2503.02175")
    with pytest.raises(HFPapersUnavailable, match="is for '2401.00001'"):
        paper_from_json({"id": "2401.00001", "title": "x"}, "2503.02175")
    paper = paper_from_json({"title": "x", "githubRepo": "javascript:alert(1)", "projectPage": "http://p.org/a"}, "2503.02175")
    assert paper.github is None and paper.project == "https://p.org/a"


def test_add_fills_authors_code_and_sources_from_both_sources(catalog):
    with FakeArxiv() as arxiv, FakeHF() as hf:
        result = _add(catalog, "2503.02175", arxiv=arxiv, hf=hf)
    assert result.exit_code == 0, result.output
    paper = load_catalog(catalog).get("divprune")
    assert paper.authors == ["Saeed Ranjbar Alvar", "Gursimran Singh", "Mohammad Akbari", "Yong Zhang"]
    assert paper.links.code == "https://github.com/vbdi/divprune"
    assert paper.sources.code == "https://huggingface.co/papers/2503.02175"
    assert paper.sources.authors == "https://arxiv.org/abs/2503.02175" and paper.arxiv_published == "2025-03-04"
    assert paper.added == "tokzoo" and paper.section_year == 2025
    assert "linked on Hugging Face Papers" in result.output


def test_add_uses_hugging_face_alone_when_arxiv_is_down(catalog):
    with FakeHF() as hf:  # no arXiv fake: its port refuses the connection, as arXiv does when down
        result = _add(catalog, "2503.02175", hf=hf)
    assert result.exit_code == 0, result.output
    assert "used Hugging Face Papers" in result.output
    paper = load_catalog(catalog).get("divprune")
    assert paper.authors[0] == "Saeed Ranjbar Alvar" and paper.sources.authors == "https://huggingface.co/papers/2503.02175"


def test_add_of_a_paper_already_in_the_catalog_needs_no_network(catalog):
    with FakeArxiv() as arxiv, FakeHF() as hf:
        result = _add(catalog, "https://arxiv.org/abs/2403.06764v2", arxiv=arxiv, hf=hf)
    assert result.exit_code == 1 and "already in the catalog: entry 'fastv'" in result.output
    assert arxiv.requests == [] and hf.requests == []


def test_labels_printed_are_the_labels_in_the_diff(catalog):
    with FakeArxiv() as arxiv:
        result = _add(catalog, "2503.02175", "--dry-run", "--modality", "video", "--not-training-free", arxiv=arxiv)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "+    modality: [video]" in out and "+    training_free: false" in out
    labels = out.split("Labels in the entry")[1]
    assert "modality: video (given with --modality)" in labels
    assert "training_free: false (given with --not-training-free)" in labels
    assert "technique: pruning (proposed: title mentions 'Pruning')" in labels
    assert "modality=image" not in out and "image" not in labels.split("technique")[0]


def test_empty_label_values_are_errors(catalog):
    with FakeArxiv() as arxiv:
        result = _add(catalog, "2503.02175", "--dry-run", "--modality", "", arxiv=arxiv)
    assert result.exit_code == 1 and "--modality: empty value" in result.output


# ------------------------------------------------------------------ hostile and broken servers


def test_http_400_is_a_clear_error_not_a_traceback(catalog):
    with FakeArxiv(reject={"2503.02175"}) as arxiv:
        result = _add(catalog, "2503.02175", arxiv=arxiv)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "arXiv refused the id 2503.02175" in result.output and "Traceback" not in result.output


def test_a_200_answer_that_is_not_atom_is_not_called_no_such_paper(catalog):
    with FakeArxiv(mode="html-200") as arxiv:
        result = _add(catalog, "2503.02175", arxiv=arxiv)
    assert result.exit_code == 1, result.output
    assert "not an Atom feed" in result.output and "text/html" in result.output
    assert "has no paper" not in result.output
    with FakeHF(mode="html-200") as hf:
        with pytest.raises(HFPapersUnavailable, match="not with JSON"):
            hf.client().fetch_one("2503.02175")


def test_gzip_bomb_is_cut_off_after_a_few_megabytes():
    with FakeArxiv(mode="gzip-bomb") as arxiv:
        report = arxiv.client(retries=0).fetch(["2503.02175"])
    assert "larger than 8 MB after decompression" in report.failed["2503.02175"]
    with FakeHF(mode="gzip-bomb") as hf:
        with pytest.raises(HFPapersUnavailable, match="larger than 2 MB after decompression"):
            hf.client().fetch_one("2503.02175")


def test_an_abandoned_read_stops_at_the_deadline():
    """A server trickling bytes for ever: the client gives up at its deadline and the reading
    thread hangs up too (before, the thread went on reading in the background)."""
    with FakeArxiv(mode="trickle") as arxiv:
        start = time.monotonic()
        with pytest.raises(ArxivUnavailable, match="no complete answer within|did not arrive completely"):
            arxiv.client(timeout=1.0, deadline=1.5, retries=0).fetch_one("2503.02175")
        gave_up = time.monotonic() - start
        while arxiv.closed_after is None and time.monotonic() - start < 6:
            time.sleep(0.05)
    assert gave_up < 4
    assert arxiv.closed_after is not None and arxiv.closed_after - start < 5, "the read went on after the deadline"
