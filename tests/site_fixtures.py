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


def like_catalog(entry: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``entry`` written the way ``data``'s papers are: schema version 2 calls the upstream
    section year ``section_year`` (version 1: ``year``)."""
    entry = dict(entry)
    if any("section_year" in p for p in data.get("papers") or []) and "year" in entry:
        entry["section_year"] = entry.pop("year")
    return entry


def site_catalog(tmp: Path) -> Path:
    """The repository's catalog plus the hostile entry (or the fixture catalog when the
    repository has no catalog.yaml yet), written to ``tmp/catalog.yaml``."""
    source = repo_root() / "catalog.yaml"
    if source.is_file():
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        hostile = next(p for p in fixture_papers() if p["id"] == MALICIOUS_ID)
        data["papers"].append(like_catalog(hostile, data))
        path = tmp / "catalog.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path
    return write_catalog(tmp / "catalog.yaml")


def build_site(tmp: Path):
    """Build the whole site (strict) from :func:`site_catalog` into ``tmp/build``."""
    from zoo.site.build import build

    return build(tmp / "build", catalog_path=site_catalog(tmp))


# ---------------------------------------------------------------- a hostile checkout (issue 17)
# Every string that reaches a page carries a script that would open a dialog if it ever became
# markup; the browser tests assert that no dialog fires on any page.
def hostile(tag: str) -> str:
    return f"{tag}</title><script>alert('{tag}')</script><img src=x onerror=\"alert('{tag}')\">"


#: the issue's exact short name (stored XSS through the theme's ``page.title | striptags``)
TOME_SHORT_NAME = "ToMe</title><script>alert(document.domain)</script>"
#: links pass the catalog's https rule (no space, no quote or angle bracket) yet try to break out
#: of an attribute or a Markdown link
HOSTILE_LINK = "https://example.org/x'onmouseover='alert(1)'/(y)](javascript:alert(2))"
#: plain author names for the search-by-author test
FASTV_AUTHORS = ("Liang Chen", "Haozhe Zhao", "Tianyu Liu")


def _hostile_catalog(source: Path) -> dict[str, Any]:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for p in data["papers"]:
        if p["id"] == "tome":
            p["short_name"] = TOME_SHORT_NAME
            p["authors"] = [hostile("author")]
            p.setdefault("links", {})["project"] = HOSTILE_LINK
        if p["id"] == "fastv":
            p["authors"] = list(FASTV_AUTHORS)
    evil = next(p for p in fixture_papers() if p["id"] == MALICIOUS_ID)
    evil = {**evil, "venue": {"name": hostile("venue"), "year": 2024, "kind": "conference"},
            "authors": [hostile("author2")], "links": {"paper": HOSTILE_LINK, "code": HOSTILE_LINK}}
    from zoo.catalog.schema import Paper

    if "code_license" in Paper.model_fields:  # a field of the newer schema: hostile too when it exists
        evil["code_license"] = hostile("license")
    data["papers"].append(like_catalog(evil, data))
    return data


_HOSTILE_SCRIPT = '''
from zoo.repro import Claim, Measurement, PaperSpec, Source

H = {h!r}

def _never(ctx):
    raise AssertionError("not measured by the site")

SPEC = PaperSpec(
    paper_id={pid!r}, title=H, arxiv="",
    claims=[Claim(id="evil-claim", kind="accuracy", description=H, reported=1.0, unit=H,
                  setting={{"model": H, "benchmark": H, H: H}}, source=Source(H, H, {link!r}),
                  measure=_never, needs=("cuda", "dataset:" + H))],
    notes=H,
)
'''


def hostile_root(tmp: Path) -> Path:
    """A copy of the checkout's site inputs with hostile strings in every field that reaches
    HTML: catalog titles, names, venues, authors, links; a repro script and records; a
    benchmark record. Built with ``build(root=...)``, it also exercises the build from the
    committed method metadata (``site/data/methods.json``), as without torch."""
    import json
    import shutil

    src = repo_root()
    root = tmp / "hostile-checkout"
    shutil.copytree(src / "site", root / "site", ignore=shutil.ignore_patterns("build"))
    shutil.copy(src / "CONTRIBUTING.md", root / "CONTRIBUTING.md")
    shutil.copytree(src / "repro", root / "repro", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(src / "benchmarks" / "results", root / "benchmarks" / "results")
    (root / "catalog.yaml").write_text(yaml.safe_dump(_hostile_catalog(src / "catalog.yaml"), sort_keys=False,
                                                      allow_unicode=True), encoding="utf-8")
    (root / "repro" / f"{MALICIOUS_ID}.py").write_text(
        _HOSTILE_SCRIPT.format(h=hostile("claim"), pid=MALICIOUS_ID, link=HOSTILE_LINK), encoding="utf-8")
    # a tome record with hostile provenance (the claim itself stays the real one)
    for record_path in sorted((root / "repro" / "results" / "tome").glob("*.json"))[:1]:
        rec = json.loads(record_path.read_text(encoding="utf-8"))
        rec.update(label=hostile("label"), reason=hostile("reason"),
                   hardware={"cpu": hostile("cpu"), "cpu_count": 2}, date="2026-11-25" + hostile("date"))
        rec["details"] = {**(rec.get("details") or {}), hostile("detail-key"): hostile("detail")}
        record_path.write_text(json.dumps(rec), encoding="utf-8")
    bench = json.loads((src / "benchmarks" / "results" / "vit-tome.json").read_text(encoding="utf-8"))
    bench["setting"] = {**bench["setting"], "model": hostile("bench-model"), "weights": hostile("bench-weights")}
    bench["params"] = {"r": hostile("bench-param")}
    bench["hardware"] = {**bench["hardware"], "cpu": hostile("bench-cpu")}
    bench["command"] = hostile("bench-command")
    bench["flops"] = {**bench["flops"], "convention": hostile("bench-convention")}
    (root / "benchmarks" / "results" / "vit-tome-hostile.json").write_text(json.dumps(bench), encoding="utf-8")
    _hostile_support_matrix(root / "site" / "data" / "methods.json")
    return root


def _hostile_support_matrix(path: Path) -> None:
    """Hostile strings in the stored support matrix: tome's timm-vit cell (reason, served classes)
    and one extra cell whose method, adapter and runtime names are hostile too."""
    import json

    doc = json.loads(path.read_text(encoding="utf-8"))
    matrix = doc.get("support_matrix") or []
    for cell in matrix:
        if cell.get("method") == "tome" and cell.get("adapter") == "timm-vit":
            cell.update(status="depends", reason=hostile("support-reason"), serves=hostile("support-serves"),
                        model_classes=[hostile("support-class")])
    matrix.append({"method": hostile("support-method"), "adapter": hostile("support-adapter"),
                   "runtime": hostile("support-runtime"), "model_classes": [hostile("support-class2")],
                   "serves": hostile("support-serves2"), "status": "depends", "reason": hostile("support-reason2")})
    doc["support_matrix"] = matrix
    path.write_text(json.dumps(doc), encoding="utf-8")


_BUILDS: dict[str, Any] = {}
SUBPATH = "/tokzoo"


class _SubpathHandler:
    """Serves a built site under ``SUBPATH`` like GitHub Pages serves a project site: a missing
    page answers 404 with the site's ``404.html``."""

    @staticmethod
    def make(directory: Path):
        import http.server

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(directory), **kwargs)

            def log_message(self, *args):  # keep pytest output clean
                pass

            def translate_path(self, path):
                path = path.split("?", 1)[0].split("#", 1)[0]
                if not path.startswith(SUBPATH + "/") and path != SUBPATH:
                    return str(directory / "__outside_the_site__")
                return super().translate_path(path[len(SUBPATH):] or "/")

            def send_head(self):
                target = Path(self.translate_path(self.path))
                if target.is_dir():
                    target = target / "index.html"
                if not target.exists():
                    body = (directory / "404.html").read_bytes()
                    self.send_response(404)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    import io

                    return io.BytesIO(body)
                return super().send_head()

        return Handler


def served_hostile_site(tmp_factory) -> tuple[str, Any]:
    """The hostile checkout built once per test process (strict) for ``site_url`` =
    ``http://127.0.0.1:<port>/tokzoo/`` and served there: ``(base URL without the trailing
    slash, BuildResult)``. The port is bound before the build so the site's own address
    (sitemap, 404 page, instant navigation) is the one the browser uses."""
    if "hostile" not in _BUILDS:
        import http.server
        import threading

        from zoo.site.build import build

        tmp = tmp_factory.mktemp("hostile-site")
        root = hostile_root(tmp)
        html = tmp / "build" / "html"
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SubpathHandler.make(html))
        base = f"http://127.0.0.1:{server.server_address[1]}{SUBPATH}"
        result = build(tmp / "build", root=root, site_url=base + "/", repo_url="https://github.com/example/tokzoo")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _BUILDS["hostile"] = (base, result, root)
    base, result, _ = _BUILDS["hostile"]
    return base, result


def hostile_catalog_papers() -> list[dict[str, Any]]:
    """The papers of the hostile checkout served by :func:`served_hostile_site`."""
    root = _BUILDS["hostile"][2]
    return yaml.safe_load((root / "catalog.yaml").read_text(encoding="utf-8"))["papers"]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    import shutil

    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
