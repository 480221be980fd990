"""Fixture catalogs for the site tests, written in the agreed catalog format.

``fixture_papers()`` is a small catalog with every modality, a video paper, implemented
and non-implemented entries, and one hostile entry whose title and name contain HTML,
a ``</script>`` and Markdown table syntax. ``write_catalog`` writes a ``catalog.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MALICIOUS_ID = "evil-escape-test"
MALICIOUS_TITLE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> | *bold* [x](javascript:alert(1)) & co'
MALICIOUS_NAME = "<b>Evil</b>|Name"


def paper(pid: str, title: str, *, year: int = 2024, modality=("image",), technique=("pruning",),
          family=("vit",), code: str | None = None, venue: dict | None = None, short_name: str | None = None,
          arxiv: str | None = None, zoo: dict | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": pid,
        "title": title,
        "short_name": short_name,
        "year": year,
        "venue": venue or {"name": "arXiv", "year": None, "kind": "preprint"},
        "arxiv": arxiv,
        "links": {"paper": f"https://arxiv.org/abs/{arxiv}" if arxiv else f"https://example.org/{pid}"},
        "modality": list(modality),
        "technique": list(technique),
        "family": list(family),
        "training_free": True,
        "zoo": zoo or {"status": "none"},
    }
    if code:
        entry["links"]["code"] = code
    return entry


def fixture_papers() -> list[dict[str, Any]]:
    return [
        paper("fastv", "An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Acceleration for VLLM Inference",
              short_name="FastV", arxiv="2403.06764", family=("vlm",), code="https://github.com/pkunlp-icler/FastV",
              venue={"name": "ECCV", "year": 2024, "kind": "conference", "note": "Oral"},
              zoo={"status": "implemented", "method": "fastv"}),
        paper("tome", "Token Merging: Your ViT But Faster", short_name="ToMe", arxiv="2210.09461", year=2023,
              technique=("merging",), code="https://github.com/facebookresearch/ToMe",
              venue={"name": "ICLR", "year": 2023, "kind": "conference", "note": "Oral"},
              zoo={"status": "implemented", "method": "tome"}),
        paper("dycoke", "DyCoke: Dynamic Compression of Tokens for Fast Video Large Language Models",
              short_name="DyCoke", arxiv="2411.15024", modality=("video",), technique=("merging", "caching"),
              family=("video-llm",), venue={"name": "CVPR", "year": 2025, "kind": "conference"}, year=2025,
              code="https://github.com/KD-TAO/DyCoke"),
        paper("video-merge-a", "Merging Frames for Video Transformers", modality=("video",), technique=("merging",),
              family=("video-vit",), year=2023),
        paper("video-prune-b", "Pruning Spatio-temporal Tokens in Video LLMs", modality=("video", "image"),
              family=("video-llm",), year=2025, short_name="STPrune"),
        paper("speech-c", "Dropping Frames in Speech Transformers", modality=("audio",), family=("speech",), year=2022,
              venue={"name": "Interspeech", "year": 2022, "kind": "conference"}),
        paper("text-d", "Prompt Compression for Long Contexts", modality=("text",), technique=("kv-compression",),
              family=("llm",), year=2024, code="https://github.com/example/pc"),
        paper("points-e", "Point Token Pruning", modality=("3d",), family=("other",), year=2021),
        paper(MALICIOUS_ID, MALICIOUS_TITLE, short_name=MALICIOUS_NAME, modality=("video",), year=2024,
              family=("video-llm",)),
    ]


def write_catalog(path: Path, papers: list[dict[str, Any]] | None = None) -> Path:
    data = {"schema_version": 1, "papers": papers if papers is not None else fixture_papers()}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def site_catalog(tmp: Path) -> Path:
    """The repository's catalog plus the hostile entry (or the fixture catalog when the
    repository has no catalog.yaml yet), written to ``tmp/catalog.yaml``."""
    source = repo_root() / "catalog.yaml"
    if source.is_file():
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        hostile = next(p for p in fixture_papers() if p["id"] == MALICIOUS_ID)
        data["papers"].append(hostile)
        path = tmp / "catalog.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path
    return write_catalog(tmp / "catalog.yaml")


def build_site(tmp: Path):
    """Build the whole site (strict) from :func:`site_catalog` into ``tmp/build``."""
    from zoo.site.build import build

    return build(tmp / "build", catalog_path=site_catalog(tmp))
