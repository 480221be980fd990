"""schema_version 2: section_year (was year), arXiv v1 date, authors, more code links, license,
sources and provenance; schema_version 1 files still load; author search; completeness check."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog_fixtures import FIXTURE_YAML, FIXTURE_YAML_V1, private_cache, write_catalog  # noqa: F401
from zoo.catalog import CatalogError, QueryError, load_catalog, validate_text
from zoo.catalog.edit import migrate_v1_text
from zoo.catalog.formats import CSV_COLUMNS
from zoo.cli import app

ROOT = Path(__file__).resolve().parent.parent

AUTHORS = """    short_name: Locret
    authors: [Yuxiang Huang, Binhang Yuan, Xu Han, Chaojun Xiao, Zhiyuan Liu]
"""
METADATA = FIXTURE_YAML.replace("    short_name: Locret\n", AUTHORS).replace(
    "    arxiv: \"2410.01805\"\n", "    arxiv_published: '2024-10-02'\n    arxiv: \"2410.01805\"\n").replace(
    "      code: https://github.com/example/locret\n",
    "      code: https://github.com/example/locret\n      other_code: [https://github.com/example/locret-cuda]\n"
    "    code_license: CC BY-NC 4.0 (non-commercial)\n").replace(
    "    zoo: {status: planned}\n",
    "    zoo: {status: planned}\n    added: tokzoo\n    sources: {venue: https://www.isca-archive.org/interspeech_2024/}\n")


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_schema_version_1_files_still_load_with_year_as_section_year(tmp_path):
    v1 = load_catalog(write_catalog(tmp_path, FIXTURE_YAML_V1, "v1.yaml"))
    v2 = load_catalog(write_catalog(tmp_path, FIXTURE_YAML, "v2.yaml"))
    assert [p.model_dump() for p in v1] == [p.model_dump() for p in v2]
    assert v1.get("fastv").section_year == v1.get("fastv").year == 2024
    issue = validate_text(FIXTURE_YAML_V1.replace("    year: 2021\n", "    year: soon\n"))[1][0]
    assert issue.field == "year" and "soon" in issue.message  # v1 files are told about 'year', as they name it


def test_a_stray_old_key_is_read_but_both_keys_are_an_error():
    one_old = FIXTURE_YAML.replace("    section_year: 2021\n", "    year: 2021\n")
    assert validate_text(one_old)[1] == []
    both = FIXTURE_YAML.replace("    section_year: 2021\n", "    section_year: 2021\n    year: 2021\n")
    issue = validate_text(both)[1][0]
    assert issue.field == "year" and "keep only section_year" in issue.message


def test_migration_renames_year_keys_only(tmp_path):
    migrated = migrate_v1_text(FIXTURE_YAML_V1)
    assert migrated == FIXTURE_YAML
    assert migrate_v1_text(FIXTURE_YAML) == FIXTURE_YAML  # venue years are left alone
    path = write_catalog(tmp_path, FIXTURE_YAML_V1)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "migrate_catalog.py"), str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "migrated 7 line(s)" in result.stdout, result.stdout + result.stderr
    assert path.read_text(encoding="utf-8") == FIXTURE_YAML


def test_new_fields_validate_and_show(tmp_path):
    path = write_catalog(tmp_path, METADATA)
    cat = load_catalog(path)
    locret = cat.get("locret")
    assert locret.authors[0] == "Yuxiang Huang" and locret.arxiv_published == "2024-10-02"
    assert locret.code_links == ["https://github.com/example/locret", "https://github.com/example/locret-cuda"]
    assert locret.license_restricts_use and not cat.get("fastv").license_restricts_use
    fastast = cat.get("fastast")
    assert fastast.added == "tokzoo" and fastast.sources.venue.startswith("https://www.isca-archive.org/")
    out = run("show", "locret", "--catalog", str(path)).output
    assert "authors        Yuxiang Huang, Binhang Yuan" in out and "v1 2024-10-02" in out
    assert "restricts use" in out and "https://github.com/example/locret-cuda" in out
    assert "added by       tokzoo (not in the upstream list)" in run("show", "fastast", "--catalog", str(path)).output
    bib = run("cite", "locret", "--catalog", str(path)).output
    assert "author = {Yuxiang Huang and Binhang Yuan and Xu Han and Chaojun Xiao and Zhiyuan Liu}" in bib
    rows = list(csv.DictReader(io.StringIO(run("list", "-F", "csv", "--catalog", str(path)).output)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    row = next(r for r in rows if r["id"] == "locret")
    assert row["authors"].startswith("Yuxiang Huang; Binhang Yuan") and row["arxiv_published"] == "2024-10-02"
    assert row["section_year"] == "2024" and next(r for r in rows if r["id"] == "fastast")["added"] == "tokzoo"


@pytest.mark.parametrize("old, new, field, message", [
    ("    arxiv_published: '2024-10-02'\n", "    arxiv_published: '2024-13-02'\n", "arxiv_published", "not a calendar date"),
    ("    arxiv_published: '2024-10-02'\n", "    arxiv_published: '2023-05-01'\n", "arxiv_published", "does not fit arXiv id"),
    ("    arxiv_published: '2024-10-02'\n", "    arxiv_published: 2024/10/02\n", "arxiv_published", "expected YYYY-MM-DD"),
    ("Yuxiang Huang, Binhang Yuan", "Yuxiang Huang et al.", "authors[0]", "one full name per list item"),
    ("    added: tokzoo\n", "    added: me\n", "added", "'upstream' or 'tokzoo'"),
    ("sources: {venue: https://www.isca", "sources: {venue: http://www.isca", "sources.venue", "not an https URL"),
    ("sources: {venue:", "sources: {venu:", "sources.venu", "did you mean 'venue'"),
])
def test_new_fields_are_checked(old, new, field, message):
    assert old in METADATA
    issues = validate_text(METADATA.replace(old, new))[1]
    assert len(issues) == 1 and issues[0].field == field and message in issues[0].message, issues


def test_author_filter_and_search(tmp_path):
    path = write_catalog(tmp_path, METADATA)
    cat = load_catalog(path)
    assert [p.id for p in cat.filter(author="binhang")] == ["locret"]
    assert [p.id for p in cat.filter(author="* Han")] == ["locret"]
    assert cat.filter(author="Nobody") == [] and [p.id for p in cat.filter(text="Zhiyuan")] == ["locret"]
    with pytest.raises(QueryError, match="--author: empty value"):
        cat.filter(author=" ")
    listed = run("list", "--author", "Xu Han", "-F", "json", "--catalog", str(path))
    assert [p["id"] for p in json.loads(listed.output)["papers"]] == ["locret"]
    shown = run("show", "Binhang Yuan", "--catalog", str(path))
    assert shown.exit_code == 1 and "matches an author of 1 paper: locret" in shown.output
    assert "tokzoo list --author 'Binhang Yuan'" in shown.output


def test_year_filters_name_three_different_years(tmp_path):
    path = write_catalog(tmp_path, METADATA)
    cat = load_catalog(path)
    assert {p.id for p in cat.filter(year=2021)} == {"token-pooling"}  # section year
    assert {p.id for p in cat.filter(venue_year=2022)} == {"token-pooling"}  # NeurIPSW 2022
    assert [p.id for p in cat.filter(arxiv_year="2024")] == ["locret"]  # only locret has its v1 date
    assert cat.filter(venue_year="2024..") and not any(p.venue.year is None for p in cat.filter(venue_year="2000.."))


def test_completeness_check(tmp_path):
    path = write_catalog(tmp_path, METADATA)
    plain = run("validate", "--catalog", str(path))
    assert plain.exit_code == 0 and "OK (6 papers)" in plain.output
    complete = run("validate", "--complete", "--catalog", str(path))
    assert complete.exit_code == 1
    assert "entry 1 (id 'fastv'): field 'authors': no authors yet" in complete.output
    assert "field 'arxiv_published': no arXiv v1 date" in complete.output
    assert "venue ECCV 2024 Oral has no source" in complete.output
    assert "(id 'fastast'): field 'venue'" not in complete.output  # it has its source


def test_json_schema_describes_version_2():
    from zoo.catalog import catalog_json_schema

    schema = catalog_json_schema()
    assert schema["properties"]["schema_version"]["const"] == 2
    paper = schema["$defs"]["Paper"]["properties"]
    assert "section_year" in paper and "year" not in paper and "arxiv_published" in paper and "sources" in paper
    assert "--year" in paper["section_year"]["description"]


def test_pr_check_points_out_old_year_keys(tmp_path):
    from zoo.contrib.pr_check import check_catalog

    text = FIXTURE_YAML.replace("    section_year: 2021\n", "    year: 2021\n")
    findings = check_catalog(text, "catalog.yaml", None)
    assert len(findings) == 1 and "entry 'token-pooling' uses the old key 'year'" in findings[0].message
    assert findings[0].line == text.splitlines().index("    year: 2021") + 1


def test_editing_tools_refuse_old_style_catalogs(tmp_path):
    from zoo.contrib.add import AddError, AddRequest, plan_add

    path = write_catalog(tmp_path, FIXTURE_YAML_V1)
    with pytest.raises(AddError, match="migrate_catalog.py"):
        plan_add(AddRequest(title="T T T", url="https://x.org/t.pdf", venue="CVPR 2024", modality=["image"],
                            technique=["pruning"], family=["vit"]), path)
    with pytest.raises(CatalogError):
        load_catalog(write_catalog(tmp_path, FIXTURE_YAML.replace("schema_version: 2", "schema_version: 3"), "v3.yaml"))


def test_arxiv_v1_date_may_precede_the_id_month_by_a_few_days():
    import datetime as dt

    from zoo.catalog.validate import _fits_arxiv_month

    assert _fits_arxiv_month(dt.date(2024, 12, 31), 2025, 1)  # submitted on new year's eve, id 2501.x
    assert _fits_arxiv_month(dt.date(2025, 1, 31), 2025, 1)
    assert not _fits_arxiv_month(dt.date(2025, 2, 1), 2025, 1)  # a v1 never postdates its id month
    assert not _fits_arxiv_month(dt.date(2024, 3, 25), 2024, 5)
