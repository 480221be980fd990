"""Merging curated metadata files (authors, code links, licenses, venues) into the catalog:
empty fields filled with their sources, curated values never overwritten (conflicts reported),
bad values skipped, the file written validated and atomically with its comments kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from catalog_fixtures import FIXTURE_YAML, private_cache, write_catalog  # noqa: F401
from zoo.catalog import load_catalog
from zoo.catalog.edit import load_roundtrip
from zoo.catalog.metadata import apply_metadata, plan_metadata, read_metadata_files

ROOT = Path(__file__).resolve().parent.parent

META_A = """\
papers:
  - id: fastv
    arxiv: '2403.06764'
    authors: [Liang Chen, Haozhe Zhao, Tianyu Liu, Shuai Bai, Junyang Lin, Chang Zhou, Baobao Chang]
    authors_source: https://arxiv.org/abs/2403.06764
    code: https://github.com/pkunlp-icler/FastV
    code_source: https://arxiv.org/abs/2403.06764
    code_license: Apache-2.0
    venue: {name: ECCV, year: 2024, kind: conference, note: Oral}
    venue_source: https://www.ecva.net/papers/eccv_2024/papers_ECCV/html/1234_ECCV_2024_paper.php
    arxiv_published: '2024-03-11'
    notes: venue confirmed on the ECVA page
  - id: null
    arxiv: '2410.01805'                  # matched by arXiv id
    venue: {name: ICLR, year: 2025, kind: conference}
    venue_source: https://openreview.net/forum?id=locret
    code: [https://github.com/example/locret, https://github.com/example/locret-kernels]
  - id: null
    title: "FastAST: Accelerating Audio Spectrogram Transformer via Token Merging and Cross-Model Knowledge Distillation"
    arxiv: '2406.07676'                  # fills the missing arXiv id (matched by title)
    authors: [Swarup Ranjan Behera, Abhishek Dhiman, Karthik Gowda, Aalekhya Satya Narayani]
  - id: todo
    venue: {name: TPAMI, year: 2024, kind: journal}   # the catalog says TPAMI 2025: a conflict
    code_license: CC BY-NC 4.0 (non-commercial)
  - id: no-such-paper
    authors: [Some One]
"""

META_B = """\
papers:
  - id: fastv
    code_license: MIT                    # disagrees with meta-a: neither is used
  - id: vidtome
    authors: [Xirui Li; Chao Ma]         # a pasted list: invalid, skipped and reported
    project: https://vidtome-diffusion.github.io/
"""


def _files(tmp_path: Path) -> list[Path]:
    a, b = tmp_path / "meta-a.yaml", tmp_path / "meta-b.yaml"
    a.write_text(META_A, encoding="utf-8")
    b.write_text(META_B, encoding="utf-8")
    return [a, b]


def test_plan_fills_reports_conflicts_and_skips_bad_values(tmp_path):
    path = write_catalog(tmp_path)
    records, errors = read_metadata_files(_files(tmp_path))
    assert errors == [] and len(records) == 7
    plan = plan_metadata(load_roundtrip(path), records)
    changed = {(u.paper_id, u.path): u.new for u in plan.updates}
    assert changed[("fastv", "authors")][0] == "Liang Chen" and changed[("fastv", "arxiv_published")] == "2024-03-11"
    assert changed[("fastv", "sources.authors")] == "https://arxiv.org/abs/2403.06764"
    assert changed[("fastv", "sources.venue")].startswith("https://www.ecva.net/")  # equal venue: source added
    assert ("fastv", "venue") not in changed and ("fastv", "links.code") not in changed  # already so
    assert ("fastv", "code_license") not in changed  # the two files disagree
    assert changed[("locret", "venue")] == {"name": "ICLR", "year": 2025, "kind": "conference"}  # preprint upgraded
    assert changed[("locret", "links.other_code")] == ["https://github.com/example/locret-kernels"]
    assert changed[("fastast", "arxiv")] == "2406.07676" and changed[("fastast", "authors")][0] == "Swarup Ranjan Behera"
    assert changed[("todo", "code_license")] == "CC BY-NC 4.0 (non-commercial)"
    conflicts = {(c.paper_id, c.field): c for c in plan.conflicts}
    assert conflicts[("todo", "venue")].current == {"name": "TPAMI", "year": 2025, "kind": "journal"}
    assert "disagree" in conflicts[("fastv", "code_license")].origin
    assert any("no-such-paper" in u for u in plan.unmatched)
    assert any("vidtome.authors" in e and "one full name per list item" in e for e in plan.errors)
    assert ("vidtome", "links.project") not in changed  # the catalog already has this project page
    summary = plan.summary()
    assert "conflicts kept" in summary and "! todo.venue: catalog has" in summary


def test_apply_writes_valid_catalog_keeping_comments_and_order(tmp_path):
    path = write_catalog(tmp_path)
    records, _ = read_metadata_files(_files(tmp_path))
    plan = plan_metadata(load_roundtrip(path), records)
    before = path.read_text(encoding="utf-8")
    apply_metadata(path, plan, dry_run=True)
    assert path.read_text(encoding="utf-8") == before  # a dry run writes nothing
    apply_metadata(path, plan)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# fixture catalog (comment kept by round-trip edits)\n") and plan.written
    assert "    authors: [Liang Chen, Haozhe Zhao," in text
    cat = load_catalog(path)
    fastv = cat.get("fastv")
    assert fastv.authors[-1] == "Baobao Chang" and fastv.arxiv_published == "2024-03-11" and fastv.code_license is None
    assert list(fastv.to_dict())[:5] == ["id", "title", "short_name", "authors", "section_year"]
    assert cat.get("locret").venue.label() == "ICLR 2025" and cat.get("locret").sources.venue.endswith("locret")
    assert cat.get("2406.07676").id == "fastast"
    todo = cat.get("todo")
    assert todo.venue.year == 2025 and todo.license_restricts_use  # conflict kept the catalog's venue
    assert "author = {Liang Chen and Haozhe Zhao" in fastv.bibtex()
    again = plan_metadata(load_roundtrip(path), records)
    assert again.updates == []  # idempotent


def test_tool_reports_and_exits_nonzero_on_errors(tmp_path):
    path = write_catalog(tmp_path)
    files = _files(tmp_path)
    conflicts = tmp_path / "conflicts.yaml"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "merge_metadata.py"), *map(str, files),
                             "--catalog", str(path), "--conflicts", str(conflicts)], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr  # the invalid vidtome authors
    assert "values for" in result.stdout and "conflicts kept" in result.stdout
    assert "todo" in conflicts.read_text(encoding="utf-8")
    assert load_catalog(path).get("fastv").authors  # the valid values were written
    bad = tmp_path / "bomb.yaml"
    bad.write_text("a: &a [x, x]\npapers: [*a]\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "merge_metadata.py"), str(bad), "--catalog", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "anchors/aliases" in result.stderr


def test_preferred_fields_replace_sourced_values_only(tmp_path):
    path = write_catalog(tmp_path)
    meta = tmp_path / "m.yaml"
    meta.write_text("papers:\n"
                    "  - id: todo\n    venue: {name: TPAMI, year: 2024, kind: journal}\n"
                    "    venue_source: https://ieeexplore.ieee.org/document/1\n"
                    "  - id: vidtome\n    venue: {name: CVPR, year: 2023, kind: conference}\n", encoding="utf-8")
    records, _ = read_metadata_files([meta])
    plan = plan_metadata(load_roundtrip(path), records, prefer=["venue"])
    assert [(u.paper_id, u.path) for u in plan.updates] == [("todo", "venue"), ("todo", "sources.venue")]
    assert [c.paper_id for c in plan.conflicts] == ["vidtome"]  # no source: still a conflict
    assert plan.replaced and "todo.venue" in plan.replaced[0]
    apply_metadata(path, plan)
    assert load_catalog(path).get("todo").venue.year == 2024
