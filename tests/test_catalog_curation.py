"""The shipped catalog's curation: the 2025-03-12 list's new papers with their curated labels, the
label-audit corrections, and consistent labels across versions of the same work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zoo.catalog import load_catalog
from zoo.catalog.upstream import ENTRY_FIXES, parse_upstream

ROOT = Path(__file__).resolve().parent.parent
LABELS = yaml.safe_load((ROOT / "tools" / "upstream" / "labels.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cat():
    return load_catalog(ROOT / "catalog.yaml")


def test_every_upstream_paper_is_in_the_catalog(cat):
    parsed = parse_upstream((ROOT / "tools" / "upstream" / "awesome-token-reduction.md").read_text(encoding="utf-8"))
    arxiv = {p.arxiv for p in cat if p.arxiv}
    assert [e.arxiv for e in parsed.entries if e.arxiv and e.arxiv not in arxiv] == []
    assert len([p for p in cat if p.added == "upstream"]) == len(parsed.entries) == 399


def test_new_papers_carry_their_curated_labels(cat):
    assert len(LABELS) == 27
    for arxiv, labels in LABELS.items():
        paper = cat.get(arxiv)
        assert paper.id == labels["id"] and paper.short_name == labels["short_name"], arxiv
        for name in ("modality", "technique", "family", "training_free"):
            assert getattr(paper, name) == labels[name], (arxiv, name)
    assert cat.get("dart").arxiv == "2502.11494" and cat.get("divprune").arxiv == "2503.02175"
    assert cat.get("divprune").links.code == "https://github.com/vbdi/divprune"


@pytest.mark.parametrize("pid, field, expected", [
    ("hbi-tpami", "modality", ["video", "text"]),
    ("mustdrop", "technique", ["pruning", "merging", "kv-compression"]),
    ("videochat-flash", "technique", ["merging", "pruning", "architecture"]),
    ("image-text-interaction-pruning", "modality", ["image", "text"]),
])
def test_label_audit_corrections(cat, pid, field, expected):
    assert getattr(cat.get(pid), field) == expected


def test_venue_and_year_corrections(cat):
    look_m = cat.get("look-m")
    assert look_m.section_year == 2024 and look_m.venue.label() == "EMNLP 2024 Findings"
    assert cat.get("testa").venue.label() == "EMNLP 2023 Findings"
    cat_pruning = cat.get("cat-pruning")  # listed twice upstream: 2024 OpenReview PDF, 2025 arXiv version
    assert cat_pruning.arxiv == "2502.00433" and cat_pruning.section_year == 2024
    assert cat_pruning.links.code == "https://github.com/ada-cheng/CAT-Pruning"
    assert any("openreview.net" in url for url in cat_pruning.links.other)
    assert cat.get("symbolic-compression").links.code is None  # upstream's misplaced CAT Pruning link dropped
    assert set(ENTRY_FIXES) >= {"2406.18139", "2310.19060", "2501.18657", "2502.00433"}
    assert all(fix.get("reason") for fix in ENTRY_FIXES.values())


def test_entries_stay_in_section_order(cat):
    """Newest section first, as upstream lists them (LOOK-M moved into the 2024 block)."""
    years = [p.section_year for p in cat]
    assert years == sorted(years, reverse=True)


#: versions of the same work (conference -> journal, workshop -> conference): same labels, except
#: where the later version extends the work (the reason says how)
RELATED = [
    ("hbi", "hbi-tpami", {}),
    ("tcformer", "tcformer-tpami", {}),
    ("pitome-iclrw", "pitome", {}),
    ("dynamicvit", "dynamic-spatial-sparsification",
     {"family": "the TPAMI version extends DynamicViT to detection/segmentation backbones (dense-vit)"}),
]


@pytest.mark.parametrize("first, second, allowed", RELATED)
def test_related_entries_have_consistent_labels(cat, first, second, allowed):
    a, b = cat.get(first), cat.get(second)
    for name in ("modality", "technique", "family", "training_free"):
        va, vb = getattr(a, name), getattr(b, name)
        same = set(va) == set(vb) if isinstance(va, list) else va == vb
        assert same or name in allowed, (first, second, name, va, vb)
