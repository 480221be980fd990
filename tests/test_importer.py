"""The upstream importer (parse + plan + round-trip write) and the curated-label merge."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from catalog_fixtures import FIXTURE_YAML, private_cache, write_catalog  # noqa: F401
from zoo.catalog import load_catalog, validate_file
from zoo.catalog.edit import apply_import, load_roundtrip, merge_labels, read_label_files
from zoo.catalog.ids import allocate_id, base_id, slugify
from zoo.catalog.upstream import parse_upstream, plan_import

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "tools" / "upstream" / "awesome-token-reduction.md"

ARXIV = '<a href="https://arxiv.org/abs/{0}"><img src="https://img.shields.io/badge/arXiv-{0}-b31b1b?logo=arxiv" height="16"></a>'
CODE = '<a href="{0}"><img src="https://img.shields.io/github/stars/x/y?label=y&logo=github&style=flat-square" height="16"></a>'
PROJECT = '<a href="{0}"><img src="https://img.shields.io/badge/Project-x-yellow" height="16"></a>'
VENUE_BADGE = '<a href="{0}"><img src="https://img.shields.io/badge/{1}-{2}-green" height="16"></a>'


@pytest.fixture(scope="module")
def shipped():
    return parse_upstream(UPSTREAM.read_text(encoding="utf-8"))


def test_shipped_list_parses_completely(shipped):
    assert shipped.problems == []
    assert len(shipped.entries) == 372
    assert sum(1 for e in shipped.entries if e.arxiv) == 347
    assert sum(1 for e in shipped.entries if not e.arxiv) == 25
    assert len({e.arxiv for e in shipped.entries if e.arxiv}) == 347
    assert Counter(e.section_year for e in shipped.entries) == {2025: 19, 2024: 237, 2023: 75, 2022: 20, 2021: 18, 2020: 3}


def test_shipped_list_normalisation(shipped):
    by_key = {e.key: e for e in shipped.entries}
    assert by_key["2501.00375"].title == "Token Pruning for Caching Better: 9× Acceleration on Stable Diffusion for Free"
    assert by_key["2411.05222"].title.startswith("Don't Look Twice: Faster Video Transformers")
    assert by_key["2411.05222"].venue == {"name": "NeurIPS", "year": 2024, "kind": "conference", "note": "Spotlight"}
    assert by_key["2403.04692"].title.startswith("PixArt-Σ: Weak-to-Strong")
    assert by_key["2407.10468"].venue == {"name": "Interspeech", "year": 2024, "kind": "conference"}
    assert by_key["2408.05479"].venue["name"] == "ACM MM"
    assert by_key["2410.04139"].venue == {"name": "EMNLP", "year": 2024, "kind": "conference", "note": "Findings"}
    assert by_key["2412.20964"].venue == {"name": "TPAMI", "year": 2024, "kind": "journal"}
    assert by_key["2501.16786"].venue == {"name": "arXiv", "year": None, "kind": "preprint"}
    assert by_key["2410.06577"].bold == ("Rodimus*",)
    # project links repaired: a stray '=' and http -> https
    by_line = shipped.by_line()
    assert by_line[294].links["project"] == "https://vap.aau.dk/tokens"
    assert by_line[375].links["project"] == "https://people.csail.mit.edu/bpan/ia-red/"
    assert all(u.startswith("https://") for e in shipped.entries for k, v in e.links.items()
               for u in (v if isinstance(v, list) else [v]))
    assert by_key["2412.11475"].links["other"] == ["https://huggingface.co/NexaAIDev/OmniVLM-968M"]
    # papers without arXiv id: venue from the bracket tag or from the badge
    no_arxiv = {e.line: e for e in shipped.entries if not e.arxiv}
    ranmer = next(e for e in no_arxiv.values() if e.title.startswith("RanMerFormer"))
    assert ranmer.venue == {"name": "Neurocomputing", "year": 2024, "kind": "journal"}
    assert ranmer.links["paper"].startswith("https://www.sciencedirect.com/")
    lvp = next(e for e in no_arxiv.values() if e.title.startswith("LVP:"))
    assert lvp.venue == {"name": "OpenReview", "year": 2024, "kind": "preprint"}
    assert lvp.key == f"line{lvp.line}"


def test_every_repair_is_reported(shipped):
    repairs = {e.line: e.repairs for e in shipped.entries if e.repairs}
    assert any("mojibake" in r for r in repairs[22])
    assert any("'Interpeech' -> 'Interspeech'" in r for r in repairs[165])
    assert any("'=https://vap.aau.dk/tokens' -> 'https://vap.aau.dk/tokens'" in r for r in repairs[294])
    # venue years that predate the paper's arXiv version are corrected, and only those listed
    assert any("venue year set to 2024" in r and "VidToMe" in r for r in repairs[266])
    by_arxiv = {e.arxiv: e for e in shipped.entries if e.arxiv}
    assert by_arxiv["2312.10656"].venue["year"] == 2024 and by_arxiv["2306.07050"].venue["year"] == 2024
    assert by_arxiv["2407.00888"].venue["year"] == 2023  # not in the fix list: kept as upstream says


#: catalog entries added by tokzoo beyond the upstream list (they will carry ``added: tokzoo`` once the
#: catalog schema has that key; until then the importer reports them as not upstream)
TOKZOO_ADDED = {"dart", "divprune", "fastvid", "holitom", "vidcom2"}


def test_shipped_catalog_is_up_to_date_with_the_shipped_list(shipped):
    plan = plan_import(load_roundtrip(ROOT / "catalog.yaml"), shipped)
    assert plan.changes == [] and plan.problems == []
    assert {(n.action, n.paper_id) for n in plan.notes} == {("missing", pid) for pid in TOKZOO_ADDED}
    assert plan.diff_text().strip().endswith(f"{len(TOKZOO_ADDED)} catalog papers not upstream, 0 problem lines")


def test_import_script_check_mode_on_the_shipped_list():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "import_upstream.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new papers, 0 fields filled" in result.stdout


def malformed_list() -> str:
    return "\n".join([
        "# A list",
        "## 2024",
        "- [CVPR 2024] **GoodOne**: A Good Paper " + ARXIV.format("2401.00001") + " " + CODE.format("http://github.com/a/good"),
        "- **NoLinks**: a paper without any link",
        "- [Foo Conf 2024] **Odd Venue**: unknown venue " + ARXIV.format("2401.00002"),
        "- [ICCV] **NoYear**: venue without year " + ARXIV.format("2401.00003"),
        "- [CVPR 2024] **GoodOne again**: duplicate " + ARXIV.format("2401.00001"),
        "- [CVPR 2024 Poster] **BadNote**: odd tag " + ARXIV.format("2401.00004"),
        "- **Versioned**: arXiv id with version <a href=\"https://arxiv.org/abs/2401.00005v3\"><img src=\"https://img.shields.io/badge/arXiv-2401.00005-b31b1b\"></a>",
        "- **Mismatch**: badge and link disagree <a href=\"https://arxiv.org/abs/2401.00006\"><img src=\"https://img.shields.io/badge/arXiv-2401.99999-b31b1b\"></a>",
        "some stray paragraph inside a section",
        "- " + ARXIV.format("2401.00007"),
        "- [ECCV 2024] **NonArxiv**: venue page only " + VENUE_BADGE.format("https://www.ecva.net/x.pdf", "ECCV", "2024"),
        "- Donâ€™t **Garble**: mojibake " + ARXIV.format("2401.00008") + " " + PROJECT.format("=http://example.org/p"),
        "## Contributing",
        "- Submit a pull request",
    ])


def test_malformed_lines_are_reported_not_fatal():
    parsed = parse_upstream(malformed_list())
    problems = {p.line: p.message for p in parsed.problems}
    assert "no arXiv link and no venue badge" in problems[4]
    assert "unknown venue 'Foo Conf'" in problems[5]
    assert "has no year" in problems[6]
    assert "duplicate of line 3" in problems[7]
    assert "cannot read the venue tag [CVPR 2024 Poster]" in problems[8]
    assert "badge says 2401.99999 but the link says 2401.00006" in problems[10]
    assert "not a list item" in problems[11]
    assert "no title" in problems[12]
    entries = {e.line: e for e in parsed.entries}
    assert sorted(entries) == [3, 5, 8, 9, 10, 13, 14]
    assert entries[3].links == {"paper": "https://arxiv.org/abs/2401.00001", "code": "https://github.com/a/good"}
    assert entries[5].venue == {"name": "Foo Conf", "year": 2024, "kind": "conference"}
    assert entries[9].arxiv == "2401.00005" and any("versionless" in r for r in entries[9].repairs)
    assert entries[13].arxiv is None and entries[13].links == {"paper": "https://www.ecva.net/x.pdf"}
    assert entries[13].venue == {"name": "ECCV", "year": 2024, "kind": "conference"}
    assert entries[14].title == "Don't Garble: mojibake" and entries[14].links["project"] == "https://example.org/p"
    assert 16 not in entries  # the Contributing section is not a paper list


def test_ids_are_readable_unique_and_pinned():
    assert slugify("LLaVA-PruMerge") == "llava-prumerge"
    assert slugify("PixArt-Σ") == "pixart-sigma"
    assert slugify("[CLS] Token") == "cls-token"
    assert len(slugify("a very long name " * 10)) <= 40
    assert base_id(None, "Accelerating Multimodal Large Language Models by Searching Optimal Vision Token Reduction") == \
        "accelerating-multimodal-large-language"
    assert allocate_id("ppt", {"ppt"}, 2022) == "ppt-2022"
    assert allocate_id("ppt", {"ppt", "ppt-2022"}, 2022) == "ppt-2022-2"
    text = "## 2023\n- **PPT**: Pose " + ARXIV.format("2209.08194") + "\n- **PPT**: Pooling " + ARXIV.format("2310.01812") + "\n"
    plan = plan_import({"papers": [], "retired_ids": ["ppt-2023"]}, parse_upstream(text))
    # 2310.01812 is pinned to 'ppt' (the zoo method id), so the pose paper may not take it, nor the retired id
    assert [c.paper_id for c in plan.additions] == ["ppt-2023-2", "ppt"]


def test_plan_adds_fills_and_never_overwrites(tmp_path):
    path = write_catalog(tmp_path)
    locret = ARXIV.format("2410.01805")
    text = "\n".join([
        "## 2024",
        # fastv upstream: different title wording and a new project page
        "- [ECCV 2024 Oral] **FastV**: renamed upstream " + ARXIV.format("2403.06764") + " " + PROJECT.format("https://fastv.example.org"),
        "- **NewPaper**: Brand New Token Merging " + ARXIV.format("2409.00001") + " " + CODE.format("https://github.com/n/new"),
        "- **Locret**: Enhancing Eviction in Long-Context LLM Inference with Trained Retaining Heads " + locret,
        # FastAST has no arXiv id in the catalog: matched by title; upstream now has one and a venue
        "- [Interspeech 2024] **FastAST**: Accelerating Audio Spectrogram Transformer via Token Merging and Cross-Model Knowledge Distillation " + ARXIV.format("2406.07676"),
    ])
    plan = plan_import(load_roundtrip(path), parse_upstream(text))
    assert [str(c) for c in plan.additions] == ["+ newpaper (upstream line 3): NewPaper: Brand New Token Merging"]
    new = plan.additions[0].new
    assert new["modality"] == [] and new["technique"] == [] and new["family"] == [] and new["training_free"] is None
    assert new["zoo"] == {"status": "none"} and new["short_name"] == "NewPaper" and new["year"] == 2024
    fills = {(c.paper_id, c.field): c.new for c in plan.fills}
    assert fills == {("fastv", "links.project"): "https://fastv.example.org", ("fastast", "arxiv"): "2406.07676"}
    notes = {(n.action, n.paper_id, n.field) for n in plan.notes}
    assert ("differs", "fastv", "title") in notes
    assert {("missing", pid, "") for pid in ("vidtome", "token-pooling", "todo")} <= notes
    # fastast's links.paper differs (venue page vs arXiv): reported, kept
    assert ("differs", "fastast", "links.paper") in notes

    assert apply_import(path, plan) == 3
    written = path.read_text(encoding="utf-8")
    assert written.startswith("# fixture catalog (comment kept by round-trip edits)\n")
    assert "    venue: {name: ECCV, year: 2024, kind: conference, note: Oral}\n" in written
    data = yaml.safe_load(written)
    assert [p["id"] for p in data["papers"]][:2] == ["fastv", "newpaper"]  # after the preceding upstream entry
    fastv = data["papers"][0]
    assert fastv["title"].startswith("An Image is Worth 1/2 Tokens")  # curated title kept
    assert fastv["links"] == {"paper": "https://arxiv.org/abs/2403.06764", "code": "https://github.com/pkunlp-icler/FastV",
                              "project": "https://fastv.example.org"}
    assert next(p for p in data["papers"] if p["id"] == "fastast")["arxiv"] == "2406.07676"
    # the new entry has placeholder labels: the validator rejects it until curated
    _, issues = validate_file(path)
    assert {(i.entry_id, i.field) for i in issues} == {("newpaper", f) for f in ("modality", "technique", "family", "training_free")}
    # a second run changes nothing
    again = plan_import(load_roundtrip(path), parse_upstream(text))
    assert again.changes == []


def test_preprint_venue_is_upgraded_but_published_venue_kept(tmp_path):
    path = write_catalog(tmp_path)
    text = "## 2024\n- [ICLR 2025] **Locret**: Enhancing Eviction in Long-Context LLM Inference with Trained Retaining Heads " + \
        ARXIV.format("2410.01805") + "\n- [ECCV 2025] **FastV**: x " + ARXIV.format("2403.06764") + "\n"
    plan = plan_import(load_roundtrip(path), parse_upstream(text))
    assert [(c.paper_id, c.field, c.new) for c in plan.fills] == [("locret", "venue", {"name": "ICLR", "year": 2025, "kind": "conference"})]
    assert any(n.paper_id == "fastv" and n.field == "venue" for n in plan.notes)
    apply_import(path, plan)
    assert load_catalog(path).get("locret").venue.label() == "ICLR 2025"


def test_import_creates_a_catalog_from_scratch(tmp_path):
    text = "## 2024\n- **Alpha**: first " + ARXIV.format("2401.00001") + "\n- **Beta**: second " + ARXIV.format("2401.00002") + "\n"
    target = tmp_path / "new.yaml"
    apply_import(target, plan_import({}, parse_upstream(text)))
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1 and [p["id"] for p in data["papers"]] == ["alpha", "beta"]
    assert target.read_text(encoding="utf-8").startswith("# tokzoo catalog")


# ------------------------------------------------------------------------------ curated labels


def labels_file(folder: Path, text: str) -> Path:
    path = folder / "labels.yaml"
    path.write_text(text, encoding="utf-8")
    return path


UPSTREAM_FOR_LABELS = "\n".join([
    "## 2024",
    "- **Locret**: Enhancing Eviction in Long-Context LLM Inference with Trained Retaining Heads " + ARXIV.format("2410.01805"),
    "- [Interspeech 2024] **FastAST**: Accelerating Audio Spectrogram Transformer via Token Merging and Cross-Model "
    "Knowledge Distillation " + VENUE_BADGE.format("https://www.isca-archive.org/interspeech_2024/example.pdf", "Interspeech", "2024"),
])


def test_merge_labels_by_arxiv_id_and_upstream_line(tmp_path):
    path = write_catalog(tmp_path)
    labels, errors = read_label_files([labels_file(tmp_path, """\
"2410.01805":
  id: locret-kv
  short_name: LocRet
  modality: [text]
  technique: [kv-compression, pruning]
  family: [llm]
  training_free: true
  confidence: high
line3:
  id: fast-ast
  short_name: FastAST
  modality: [audio]
  technique: [merging]
  family: [speech, encoder-lm]
  training_free: false
"2403.06764":
  id: not-fastv
  short_name: FastV
  modality: [image]
  technique: [pruning]
  family: [vlm]
  training_free: true
""")])
    assert errors == []
    report = merge_labels(path, labels, UPSTREAM_FOR_LABELS, zoo_status={"todo": {"status": "planned"}})
    assert report.errors == [] and report.written
    assert sorted(report.renamed) == [("fastast", "fast-ast"), ("locret", "locret-kv")]  # fastv stays pinned
    assert report.ignored_fields == {"confidence": 1} and "field 'confidence' ignored in 1 entries" in report.summary()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# fixture catalog (comment kept")
    assert "    technique: [kv-compression, pruning]\n" in text
    cat = load_catalog(path)
    assert cat.get("locret-kv").training_free is True and cat.get("locret-kv").short_name == "LocRet"
    assert cat.get("fast-ast").family == ["speech", "encoder-lm"]
    assert cat.get("2403.06764").id == "fastv" and cat.get("todo").zoo.status == "planned"
    assert set(report.unlabelled) == {"vidtome", "token-pooling", "todo"}


def test_merge_labels_rejects_bad_labels_and_writes_nothing(tmp_path):
    path = write_catalog(tmp_path)
    before = path.read_bytes()
    labels, _ = read_label_files([labels_file(tmp_path, """\
"2410.01805": {modality: [txt], technique: [], family: [llm], training_free: maybe, id: Bad_Id}
"2312.10656": {id: fastv}
"9999.99999": {modality: [text]}
line1: {modality: [text]}
""")])
    report = merge_labels(path, labels, UPSTREAM_FOR_LABELS)
    text = "\n".join(report.errors)
    assert "2410.01805: modality has unknown terms ['txt']; allowed: image, video" in text
    assert "2410.01805: technique must be a non-empty list" in text
    assert "training_free must be true or false" in text and "id 'Bad_Id'" in text
    assert "9999.99999: no catalog paper" in text and "line1: line 1 of the upstream list is not a paper" in text
    assert "id 'fastv' would be used twice" in text
    assert not report.written and path.read_bytes() == before


def test_merge_labels_completeness_and_dry_run(tmp_path):
    path = write_catalog(tmp_path)
    before = path.read_bytes()
    labels, _ = read_label_files([labels_file(tmp_path, '"2410.01805": {modality: [text]}\n')])
    report = merge_labels(path, labels, UPSTREAM_FOR_LABELS, require_complete=True)
    assert any("missing fields id, short_name, technique, family, training_free" in e for e in report.errors)
    assert any("6 catalog papers have no labels" in e for e in report.errors)
    report = merge_labels(path, labels, UPSTREAM_FOR_LABELS, dry_run=True)
    assert report.errors == [] and not report.written and path.read_bytes() == before


def test_merge_labels_resolves_id_clashes_when_asked(tmp_path):
    path = write_catalog(tmp_path)
    labels, _ = read_label_files([labels_file(tmp_path, '"2402.13573": {id: tpool}\n"2110.03860": {id: tpool}\n')])
    assert any("would be used twice" in e for e in merge_labels(path, labels, UPSTREAM_FOR_LABELS).errors)
    report = merge_labels(path, labels, UPSTREAM_FOR_LABELS, resolve_clashes=True)
    assert report.errors == []
    cat = load_catalog(path)
    assert cat.get("2110.03860").id == "tpool"  # the older paper keeps the id
    assert cat.get("2402.13573").id == "tpool-tpami"


def test_label_files_must_not_overlap(tmp_path):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text('"2410.01805": {modality: [text]}\n', encoding="utf-8")
    b.write_text('"2410.01805": {modality: [image]}\n', encoding="utf-8")
    _, errors = read_label_files([a, b])
    assert errors and "also labelled in" in errors[0]
