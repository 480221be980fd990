"""`tokzoo sync`: report new / changed / removed papers, never overwrite curated values."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import write_small_catalog
from zoo.catalog import load_catalog
from zoo.cli import app
from zoo.contrib.catalog_edit import only_insertions

REPO = Path(__file__).resolve().parents[1]
UPSTREAM_LINES = (REPO / "tools" / "upstream" / "awesome-token-reduction.md").read_text(encoding="utf-8").splitlines()


def _line(arxiv: str) -> str:
    return next(line for line in UPSTREAM_LINES if f"arxiv.org/abs/{arxiv}\"" in line)


NEW_PAPER = ('- [CVPR 2025] **DivPrune**: Diversity-based Visual Token Pruning for Large Multimodal Models '
             '<a href="https://arxiv.org/abs/2503.02175"><img src="https://img.shields.io/badge/arXiv-2503.02175-b31b1b?logo=arxiv" height="16"></a>')


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return write_small_catalog(tmp_path / "catalog.yaml")


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """A slice of the real list: two new papers (one without label keywords), three known ones
    (FastV with a different title and a code link the catalog lacks); LVPruning is absent."""
    text = "\n".join([
        "# Awesome Token Reduction", "", "## 2025", NEW_PAPER, _line("2501.16786"), "",
        "## 2024", _line("2412.04467"), _line("2403.06764"), "", "## 2022", _line("2210.09461"), "",
    ]) + "\n"
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def _sync(catalog_path: Path, *args: str):
    return CliRunner().invoke(app, ["sync", *args, "--catalog", str(catalog_path)])


def test_report_lists_new_changed_and_removed_and_writes_nothing(catalog, upstream):
    before = catalog.read_text()
    result = _sync(catalog, str(upstream))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "New upstream papers: 2 (1 left out" in out
    assert "+ divprune (line 4): DivPrune: Diversity-based Visual Token Pruning" in out and "[pruning | vlm]" in out
    assert "? explicit-temporal-modeling: left out, no keyword suggests its technique; add it with `tokzoo add 2501.16786`" in out
    assert "~ fastv.links.code: None -> 'https://github.com/pkunlp-icler/FastV'" in out
    assert "! fastv.title: kept 'An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Inference" in out
    assert "No longer in the upstream list (kept in the catalog): 1\n  - lvpruning" in out
    assert "report only; run again with --write" in out
    assert catalog.read_text() == before
    assert _sync(catalog, str(upstream), "--check").exit_code == 1


def test_write_fills_and_adds_but_keeps_curated_values_and_removed_papers(catalog, upstream):
    result = _sync(catalog, str(upstream), "--write")
    assert result.exit_code == 0, result.output
    assert "(validated)" in result.output
    cat = load_catalog(catalog)
    fastv = cat.get("fastv")
    assert fastv.title.startswith("An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Inference")  # curated title kept
    assert fastv.links.code == "https://github.com/pkunlp-icler/FastV"  # empty field filled
    assert cat.get("lvpruning")  # gone upstream, kept here
    divprune = cat.get("divprune")
    assert divprune.venue.name == "CVPR" and divprune.technique == ["pruning"] and divprune.year == 2025
    assert "explicit-temporal-modeling" not in {p.id for p in cat.papers}  # could not be labelled: left out
    again = _sync(catalog, str(upstream), "--check")
    assert again.exit_code == 1 and "New upstream papers: 1 (1 left out" in again.output


def test_an_up_to_date_catalog_has_nothing_to_write(catalog, tmp_path):
    text = "\n".join(["## 2022", _line("2210.09461")]) + "\n"
    (tmp_path / "one.md").write_text(text, encoding="utf-8")
    first = _sync(catalog, str(tmp_path / "one.md"), "--write")
    assert first.exit_code == 0 and "wrote" in first.output  # fills tome's code link
    before = catalog.read_text()
    second = _sync(catalog, str(tmp_path / "one.md"), "--write", "--check")
    assert second.exit_code == 0 and "nothing to write" in second.output
    assert catalog.read_text() == before
    assert only_insertions(before, before)


def test_a_url_is_fetched_and_an_unreachable_one_fails_clearly(catalog, upstream):
    body = upstream.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/markdown; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        result = _sync(catalog, f"http://127.0.0.1:{server.server_address[1]}/README.md")
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0 and "+ divprune" in result.output

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    offline = _sync(catalog, f"http://127.0.0.1:{port}/README.md", "--timeout", "2")
    assert offline.exit_code == 1
    assert "cannot fetch" in offline.output and "are you offline?" in offline.output


def test_text_without_papers_is_rejected(catalog, tmp_path):
    (tmp_path / "empty.md").write_text("# nothing here\n", encoding="utf-8")
    result = _sync(catalog, str(tmp_path / "empty.md"))
    assert result.exit_code == 1 and "no paper found in the upstream text" in result.output


def _labels_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_curated_labels_win_over_keyword_proposals(catalog, upstream, tmp_path):
    labels = _labels_file(tmp_path, """\
"2503.02175": {id: divprune, short_name: DivPrune, modality: [image, video], technique: [pruning], family: [vlm], training_free: true}
"2501.16786": {id: etm-video, short_name: null, modality: [video], technique: [pooling, analysis], family: [video-llm], training_free: false}
"2999.00001": {id: nobody, short_name: null, modality: [image], technique: [pruning], family: [vlm], training_free: true}
""")
    result = _sync(catalog, str(upstream), "--labels", str(labels), "--write")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"Curated labels: {labels} (3 papers)" in out
    assert "+ etm-video (line 5): Exploring the Role of Explicit Temporal Modeling" in out and "(curated labels)" in out
    assert "warning: labels for '2999.00001': no new upstream paper with this key (unused)" in out
    cat = load_catalog(catalog)
    assert cat.get("divprune").modality == ["image", "video"]  # the curated labels, not the keyword proposal
    etm = cat.get("2501.16786")
    assert etm.id == "etm-video" and etm.technique == ["pooling", "analysis"] and etm.added == "upstream"
    assert [p.id for p in cat.papers][:3] == ["divprune", "etm-video", "lvpruning"]  # upstream order kept


def test_invalid_curated_labels_leave_the_paper_out(catalog, upstream, tmp_path):
    labels = _labels_file(tmp_path, '"2501.16786": {id: fastv, short_name: null, modality: [video], technique: [pooling], '
                                    'family: [video-llm], training_free: false}\n'
                                    '"2503.02175": {id: divprune, modality: [pictures]}\n')
    result = _sync(catalog, str(upstream), "--labels", str(labels))
    assert result.exit_code == 0, result.output
    assert "? explicit-temporal-modeling: left out, its curated id 'fastv' is already used" in result.output
    assert "? divprune: left out, its curated labels are invalid" in result.output and "pictures" in result.output


def test_papers_added_by_tokzoo_are_not_reported_missing(catalog, upstream):
    text = catalog.read_text(encoding="utf-8").replace(
        "  - id: lvpruning\n", "  - id: lvpruning\n", 1)
    start = text.index("  - id: lvpruning\n")
    end = text.index("    zoo: {status: none}\n", start) + len("    zoo: {status: none}\n")
    catalog.write_text(text[:end] + "    added: tokzoo\n" + text[end:], encoding="utf-8")
    out = _sync(catalog, str(upstream)).output
    assert "No longer in the upstream list (kept in the catalog): 0" in out
    assert "= lvpruning: added by tokzoo, not in the upstream list (expected)" in out
    # once the list has the paper too, sync says so (and matches it: no duplicate)
    with_it = upstream.read_text(encoding="utf-8").replace("## 2024", _line("2501.13652") + "\n## 2024")
    upstream.write_text(with_it, encoding="utf-8")
    out = _sync(catalog, str(upstream)).output
    assert "= lvpruning: added by tokzoo, now also in the upstream list" in out and "+ lvpruning" not in out


def test_a_paper_listed_in_another_section_is_no_anchor_for_new_ones(catalog, tmp_path):
    """A new upstream paper follows its upstream neighbour in the catalog, unless that neighbour
    sits in another section of the catalog (a duplicate line, a corrected year): then the new paper
    goes with the paper before, in its own section (2025 papers never land among 2022 ones)."""
    tome = _line("2210.09461")
    new = ("- **NewOne**: Brand New Token Pruning for Vision Language Models "
           '<a href="https://arxiv.org/abs/2502.00001"><img src="https://img.shields.io/badge/arXiv-2502.00001-b31b1b"></a>')
    text = "\n".join(["## 2025", _line("2501.13652"), tome, new, "", "## 2022", tome]) + "\n"
    (tmp_path / "list.md").write_text(text, encoding="utf-8")
    result = _sync(catalog, str(tmp_path / "list.md"), "--write")
    assert result.exit_code == 0, result.output
    ids = [p.id for p in load_catalog(catalog).papers]
    assert ids.index("newone") == ids.index("lvpruning") + 1
