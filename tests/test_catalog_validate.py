"""The validator: every broken catalog gets an error naming file, line, entry, field and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog_fixtures import FIXTURE_YAML, line_of, private_cache, write_catalog  # noqa: F401
from zoo import vocab
from zoo.catalog import CatalogError, catalog_json_schema, load_catalog, validate_file, validate_text

ROOT = Path(__file__).resolve().parent.parent


def issues_for(text: str, file: str = "cat.yaml"):
    parsed, issues = validate_text(text, file)
    assert parsed is None and issues, "the broken catalog was accepted"
    return issues


def only_issue(text: str):
    issues = issues_for(text)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def test_fixture_is_valid():
    parsed, issues = validate_text(FIXTURE_YAML)
    assert issues == [] and parsed is not None
    assert [p.id for p in parsed.papers][:2] == ["fastv", "vidtome"]


def test_unknown_term_names_file_line_entry_field_and_allowed_values():
    text = FIXTURE_YAML.replace("modality: [video]", "modality: [vdeo]")
    issue = only_issue(text)
    assert issue.file == "cat.yaml"
    assert issue.line == line_of(text, "modality: [vdeo]")
    assert issue.entry == 1 and issue.entry_id == "vidtome"
    assert issue.field == "modality[0]"
    assert issue.allowed == tuple(vocab.MODALITY)
    rendered = str(issue)
    assert rendered.startswith(f"cat.yaml:{issue.line}: entry 2 (id 'vidtome'): field 'modality[0]': ")
    assert "unknown term 'vdeo'" in rendered and "did you mean 'video'" in rendered
    assert "allowed: image, video, text, audio, 3d, other" in rendered


@pytest.mark.parametrize(
    "old, new, field, allowed",
    [
        ("technique: [kv-compression]", "technique: [kv-cache]", "technique[0]", vocab.TECHNIQUE),
        ("family: [llm]", "family: [gpt]", "family[0]", vocab.FAMILY),
        ("zoo: {status: planned}", "zoo: {status: maybe}", "zoo.status", vocab.ZOO_STATUS),
        ("kind: journal}", "kind: magazine}", "venue.kind", vocab.VENUE_KIND),
        ("note: Oral}", "note: Poster}", "venue.note", vocab.VENUE_NOTE),
    ],
)
def test_every_closed_vocabulary_is_enforced(old, new, field, allowed):
    text = FIXTURE_YAML.replace(old, new)
    issue = only_issue(text)
    assert issue.field == field and issue.allowed == tuple(allowed)
    assert issue.line == line_of(text, new)


def test_empty_label_list_is_rejected():
    text = FIXTURE_YAML.replace("family: [diffusion]\n    training_free: true\n    zoo: {status: none}\n  - id: locret",
                                "family: []\n    training_free: true\n    zoo: {status: none}\n  - id: locret")
    issue = only_issue(text)
    assert issue.entry_id == "vidtome" and issue.field == "family"
    assert "at least one term" in issue.message and issue.allowed == tuple(vocab.FAMILY)


def test_placeholder_entries_of_the_importer_are_rejected():
    text = FIXTURE_YAML.replace("training_free: false\n    zoo: {status: planned}", "training_free: null\n    zoo: {status: planned}")
    issue = only_issue(text)
    assert issue.entry_id == "fastast" and issue.field == "training_free"
    assert "true or false" in issue.message and "null" in issue.message


def test_duplicate_ids_and_arxiv_ids():
    text = FIXTURE_YAML.replace("id: locret", "id: fastv").replace('arxiv: "2402.13573"', 'arxiv: "2403.06764"')
    issues = issues_for(text)
    by_field = {i.field: i for i in issues}
    assert set(by_field) == {"id", "arxiv"}
    assert "duplicate id" in by_field["id"].message and "entry 1 (id 'fastv')" in by_field["id"].message
    assert by_field["id"].line == line_of(text, "- id: fastv", occurrence=2) and by_field["id"].entry == 2
    assert "duplicate arXiv id" in by_field["arxiv"].message
    assert by_field["arxiv"].entry_id == "todo"


def test_duplicate_titles_are_rejected():
    text = FIXTURE_YAML.replace('"Token Pooling in Vision Transformers"', '"token pooling in vision transformers!"')
    text = text.replace('"Locret: Enhancing Eviction in Long-Context LLM Inference with Trained Retaining Heads"', '"Token Pooling in Vision Transformers"')
    issue = only_issue(text)
    assert issue.field == "title" and "duplicate title" in issue.message and issue.entry_id == "token-pooling"


@pytest.mark.parametrize(
    "value, expected",
    [
        ('"2403.0676"', "is not a versionless arXiv id"),
        ('"2403.06764v2"', "has a version suffix; store the versionless arXiv id '2403.06764'"),
        ("2403.06764", "Input should be a valid string"),  # unquoted: YAML reads a float
    ],
)
def test_malformed_arxiv_ids(value, expected):
    text = FIXTURE_YAML.replace('arxiv: "2403.06764"', f"arxiv: {value}")
    issue = only_issue(text)
    assert issue.entry_id == "fastv" and issue.field == "arxiv" and expected in issue.message
    assert issue.line == line_of(text, f"arxiv: {value}")


def test_links_must_be_https():
    text = FIXTURE_YAML.replace("code: https://github.com/pkunlp-icler/FastV", "code: http://github.com/pkunlp-icler/FastV")
    issue = only_issue(text)
    assert issue.field == "links.code" and "not an https URL" in issue.message
    text = FIXTURE_YAML.replace("- https://huggingface.co/example/token-pooling", "- ftp://example.org/x")
    issue = only_issue(text)
    assert issue.field == "links.other[0]" and issue.line == line_of(text, "ftp://example.org/x")


def test_missing_and_unknown_fields():
    text = FIXTURE_YAML.replace('    title: "Locret: Enhancing Eviction in Long-Context LLM Inference with Trained Retaining Heads"\n', "")
    issue = only_issue(text)
    assert issue.entry_id == "locret" and issue.field == "title" and "required field is missing" in issue.message
    assert issue.line == line_of(text, "- id: locret")

    text = FIXTURE_YAML.replace("    short_name: Locret\n", "    shortname: Locret\n")
    issue = only_issue(text)
    assert issue.field == "shortname" and "did you mean 'short_name'" in issue.message
    assert "short_name" in issue.allowed and "title" in issue.allowed


def test_wrong_types_and_cross_field_rules():
    text = FIXTURE_YAML.replace("year: 2025\n", "year: twenty\n")
    issue = only_issue(text)
    assert issue.field == "year" and "twenty" in issue.message
    text = FIXTURE_YAML.replace("zoo: {status: implemented, method: fastv}", "zoo: {status: implemented}")
    issue = only_issue(text)
    assert issue.field == "zoo" and "needs method" in issue.message
    text = FIXTURE_YAML.replace("{name: TPAMI, year: 2025, kind: journal}", "{name: TPAMI, year: null, kind: journal}")
    issue = only_issue(text)
    assert issue.field == "venue" and "year is required" in issue.message
    text = FIXTURE_YAML.replace("modality: [image, video]", "modality: [image, image]")
    issue = only_issue(text)
    assert issue.field == "modality" and "listed twice" in issue.message


def test_ids_must_be_lowercase_slugs_and_not_retired():
    text = FIXTURE_YAML.replace("id: todo", "id: ToDo")
    issue = only_issue(text)
    assert issue.field == "id" and "lowercase letters" in issue.message
    text = FIXTURE_YAML + "retired_ids: [todo]\n"
    issue = only_issue(text)
    assert issue.field == "id" and issue.entry_id == "todo" and "retired" in issue.message


def test_garbled_titles_are_rejected():
    text = FIXTURE_YAML.replace("Token Pooling in Vision Transformers", "Donâ€™t Pool Tokens in Vision Transformers")
    issue = only_issue(text)
    assert issue.field == "title" and "mojibake" in issue.message and "Don't Pool Tokens" in issue.message


def test_file_level_problems():
    issue = only_issue(FIXTURE_YAML.replace("schema_version: 1", "schema_version: 2"))
    assert issue.entry is None and issue.field == "schema_version" and issue.allowed == ("1",)
    issue = only_issue("- just a list\n")
    assert "mapping" in issue.message and issue.line == 1
    issue = only_issue(FIXTURE_YAML.replace("    year: 2023\n", "    year: 2023\n   bad: [indent\n"))
    assert "YAML syntax error" in issue.message and issue.line is not None


def test_duplicate_keys_are_reported_with_their_line():
    text = FIXTURE_YAML.replace("    short_name: Locret\n", "    short_name: Locret\n    short_name: Other\n")
    issue = only_issue(text)
    assert issue.entry_id == "locret" and issue.field == "short_name" and "appears twice" in issue.message
    assert f"line {line_of(text, 'short_name: Other')}" in issue.message


def test_all_problems_are_reported_at_once_and_load_raises(tmp_path):
    text = FIXTURE_YAML.replace("modality: [video]", "modality: [vdeo]").replace("family: [llm]", "family: [gpt]")
    path = write_catalog(tmp_path, text)
    _, issues = validate_file(path)
    assert len(issues) == 2 and all(str(path) in str(i) for i in issues)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert len(info.value.issues) == 2 and "2 problems" in str(info.value)


def test_unreadable_file(tmp_path):
    _, issues = validate_file(tmp_path / "missing.yaml")
    assert len(issues) == 1 and "cannot read" in issues[0].message


def test_shipped_catalog_is_valid():
    parsed, issues = validate_file(ROOT / "catalog.yaml")
    assert issues == [], "\n".join(map(str, issues[:20]))
    assert parsed is not None and len(parsed.papers) == 377  # 372 upstream + 5 added by tokzoo (dart, divprune; fastvid, holitom, vidcom2)


def test_json_schema_file_is_current():
    shipped = json.loads((ROOT / "zoo" / "data" / "catalog.schema.json").read_text(encoding="utf-8"))
    assert shipped == catalog_json_schema(), "regenerate: tokzoo validate --schema > zoo/data/catalog.schema.json"


def test_json_schema_lists_the_vocabularies():
    schema = catalog_json_schema()
    paper = schema["$defs"]["Paper"]["properties"]
    assert paper["modality"]["items"]["enum"] == list(vocab.MODALITY)
    assert paper["modality"]["minItems"] == 1 and paper["modality"]["uniqueItems"] is True
    assert paper["technique"]["items"]["enum"] == list(vocab.TECHNIQUE)
    assert schema["$defs"]["Paper"]["additionalProperties"] is False
