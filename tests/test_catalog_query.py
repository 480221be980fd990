"""Catalog lookups and every filter of Catalog.filter / tokzoo list."""

from __future__ import annotations

import pytest

from catalog_fixtures import FIXTURE_IDS, private_cache, write_catalog  # noqa: F401
from zoo.catalog import AmbiguousPaper, PaperNotFound, QueryError, load_catalog
from zoo.catalog.query import parse_years


@pytest.fixture
def cat(tmp_path):
    return load_catalog(write_catalog(tmp_path))


def ids(papers):
    return [p.id for p in papers]


def test_loads_in_file_order(cat):
    assert cat.ids == FIXTURE_IDS and len(cat) == 6


@pytest.mark.parametrize(
    "criteria, expected",
    [
        ({}, FIXTURE_IDS),
        ({"modality": "video"}, ["vidtome", "token-pooling"]),
        ({"modality": ["audio", "text"]}, ["locret", "fastast"]),
        ({"modality": "audio,text"}, ["locret", "fastast"]),
        ({"technique": "merging"}, ["vidtome", "fastast", "token-pooling"]),
        ({"technique": "kv-compression"}, ["locret"]),
        ({"family": "diffusion"}, ["vidtome", "todo"]),
        ({"family": ["vit", "vlm"]}, ["fastv", "token-pooling"]),
        ({"year": 2024}, ["fastv", "locret", "fastast"]),
        ({"year": "2023..2024"}, ["fastv", "vidtome", "locret", "fastast"]),
        ({"year": "2024.."}, ["fastv", "locret", "fastast", "todo"]),
        ({"year": "..2023"}, ["vidtome", "token-pooling"]),
        ({"year": "2021,2025"}, ["token-pooling", "todo"]),
        ({"year": ["2021", "2023..2023"]}, ["vidtome", "token-pooling"]),
        ({"venue": "cvpr"}, ["vidtome"]),
        ({"venue": "NeurIPS"}, []),
        ({"venue": "NeurIPS*"}, ["token-pooling"]),
        ({"venue": "ECCV 2024"}, ["fastv"]),
        ({"venue": "ECCV 2023"}, []),
        ({"venue": ["arXiv", "TPAMI"]}, ["locret", "todo"]),
        ({"training_free": True}, ["fastv", "vidtome", "todo"]),
        ({"training_free": False}, ["locret", "fastast", "token-pooling"]),
        ({"has_code": True}, ["fastv", "locret", "token-pooling"]),
        ({"has_code": False}, ["vidtome", "fastast", "todo"]),
        ({"implemented": True}, ["fastv"]),
        ({"implemented": False}, ["vidtome", "locret", "fastast", "token-pooling", "todo"]),
        ({"status": "planned"}, ["fastast"]),
        ({"status": ["planned", "implemented"]}, ["fastv", "fastast"]),
        ({"text": "fast*"}, ["fastv", "fastast"]),
        ({"text": "*merging*"}, ["vidtome", "fastast"]),
        ({"text": "24*"}, ["fastv", "locret", "todo"]),
        ({"text": "token"}, ["fastv", "vidtome", "fastast", "token-pooling", "todo"]),
        ({"text": "video token"}, ["vidtome", "todo"]),
        ({"text": ["Video", "Editing"]}, ["vidtome"]),
        ({"text": "interspeech"}, ["fastast"]),
        ({"text": "2410.01805"}, ["locret"]),
        # different criteria combine with AND
        ({"modality": "image", "technique": "merging"}, ["token-pooling"]),
        ({"modality": "image", "training_free": True, "year": "2025"}, ["todo"]),
        ({"family": "diffusion", "has_code": True}, []),
    ],
)
def test_filters(cat, criteria, expected):
    assert ids(cat.filter(**criteria)) == expected


@pytest.mark.parametrize(
    "criteria, message",
    [
        ({"modality": "vdeo"}, "--modality: unknown term 'vdeo' (did you mean 'video'?); allowed: image, video"),
        ({"technique": "prune"}, "--technique: unknown term 'prune'"),
        ({"family": "llava"}, "--family: unknown term 'llava'"),
        ({"status": "done"}, "--status: unknown term 'done'"),
        ({"year": "2023...2024"}, "--year: '2023...2024' is not a year or range"),
        ({"year": "recent"}, "--year: 'recent' is not a year or range"),
        ({"year": "2025..2023"}, "--year: range '2025..2023' is empty"),
    ],
)
def test_bad_filter_values_name_the_option_and_allowed_values(cat, criteria, message):
    with pytest.raises(QueryError) as info:
        cat.filter(**criteria)
    assert message in str(info.value)


def test_parse_years():
    assert parse_years("2023..2024") == ((2023, 2024),)
    assert parse_years(2024) == ((2024, 2024),)
    assert parse_years(" ..2022 , 2024") == ((None, 2022), (2024, 2024))
    assert parse_years(None) == ()


@pytest.mark.parametrize(
    "key, expected",
    [
        ("fastv", "fastv"),
        ("FastV", "fastv"),
        ("fAsTv", "fastv"),
        ("2403.06764", "fastv"),
        ("2403.06764v3", "fastv"),
        ("arXiv:2403.06764", "fastv"),
        ("https://arxiv.org/abs/2403.06764v2", "fastv"),
        ("https://arxiv.org/pdf/2403.06764", "fastv"),
        ("vid tome", "vidtome"),
        ("Token Pooling in Vision Transformers", "token-pooling"),
        ("token pooling in vision transformers", "token-pooling"),
    ],
)
def test_get_by_id_arxiv_name_or_title(cat, key, expected):
    assert cat.get(key).id == expected
    assert key in cat


def test_get_near_miss_suggests_closest_ids(cat):
    with pytest.raises(PaperNotFound) as info:
        cat.get("fastvv")
    assert info.value.suggestions[:2] == ["fastv", "fastast"]
    assert "did you mean: fastv" in str(info.value)
    assert cat.find("nothing-like-this") is None


def test_ambiguous_name_lists_candidates(tmp_path):
    from catalog_fixtures import FIXTURE_YAML

    text = FIXTURE_YAML.replace("short_name: Locret", "short_name: ToDo")
    cat = load_catalog(write_catalog(tmp_path, text))
    assert cat.get("ToDo").id == "todo"  # an id (any case) wins over short names
    with pytest.raises(AmbiguousPaper) as info:
        cat.get("to do")
    assert info.value.candidates == ["locret", "todo"]


def test_paper_conveniences(cat):
    fastv = cat.get("fastv")
    assert fastv.name == "FastV" and fastv.has_code and fastv.implemented
    assert fastv.arxiv_url == "https://arxiv.org/abs/2403.06764"
    assert fastv.venue.label() == "ECCV 2024 Oral"
    pooling = cat.get("token-pooling")
    assert pooling.name == "token-pooling" and pooling.venue.label() == "NeurIPSW 2022"
    assert cat.get("locret").venue.label() == "arXiv"


def test_stats(cat):
    stats = cat.stats()
    assert stats["total"] == {"papers": 6, "with_arxiv": 5, "with_code": 3, "training_free": 3}
    assert stats["year"] == {"2025": 1, "2024": 3, "2023": 1, "2021": 1}
    assert stats["modality"] == {"image": 3, "video": 2, "audio": 1, "text": 1}
    assert stats["technique"]["merging"] == 3 and stats["zoo_status"] == {"none": 4, "implemented": 1, "planned": 1}
    assert stats["venue_kind"] == {"conference": 3, "journal": 1, "preprint": 1, "workshop": 1}
    assert cat.stats(cat.filter(modality="video"))["total"]["papers"] == 2
