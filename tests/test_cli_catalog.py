"""tokzoo list / show / stats / validate / cite, every output format, and the light CLI import."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalog_fixtures import FIXTURE_IDS, FIXTURE_YAML, line_of, private_cache, write_catalog  # noqa: F401
from zoo.catalog import catalog_json_schema, validate_text
from zoo.catalog.formats import CSV_COLUMNS
from zoo.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    path = write_catalog(tmp_path)
    monkeypatch.setenv("TOKZOO_CATALOG", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    return path


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


def table_ids(output: str) -> list[str]:
    lines = output.splitlines()
    assert lines[0].split()[:4] == ["ID", "Year", "Venue", "Name"] and set(lines[1]) <= {"-", " "}
    return [line.split()[0] for line in lines[2:-1]]


def test_list_table_columns_and_footer(catalog):
    out = run("list").output
    header = out.splitlines()[0].split()
    assert header == ["ID", "Year", "Venue", "Name", "Title", "arXiv", "Code", "Zoo"]
    assert table_ids(out) == FIXTURE_IDS
    assert out.splitlines()[-1] == "6 papers (catalog: 6)"
    row = next(line for line in out.splitlines() if line.startswith("fastv "))
    assert row.split()[1:5] == ["2024", "ECCV", "2024", "Oral"]
    assert row.split()[-3:] == ["2403.06764", "yes", "yes"]  # Zoo: yes = implemented


def test_list_filters_from_the_command_line(catalog):
    assert table_ids(run("list", "--modality", "video").output) == ["vidtome", "token-pooling"]
    assert table_ids(run("list", "-m", "image", "-t", "merging").output) == ["token-pooling"]
    assert table_ids(run("list", "--year", "2023..2024", "--has-code").output) == ["fastv", "locret"]
    assert table_ids(run("list", "--venue", "CVPR", "--venue", "TPAMI").output) == ["vidtome", "todo"]
    assert table_ids(run("list", "--family", "diffusion", "--training-free").output) == ["vidtome", "todo"]
    assert table_ids(run("list", "--needs-training", "--no-code").output) == ["fastast"]
    assert table_ids(run("list", "--implemented").output) == ["fastv"]
    assert table_ids(run("list", "--status", "planned").output) == ["fastast"]
    assert table_ids(run("list", "fast*").output) == ["fastv", "fastast"]
    assert table_ids(run("list", "video", "editing").output) == ["vidtome"]
    out = run("list", "--limit", "2").output
    assert table_ids(out) == FIXTURE_IDS[:2] and out.splitlines()[-1] == "2 of 6 matching papers (catalog: 6)"


def test_list_no_match_and_bad_values(catalog):
    result = run("list", "--modality", "audio", "--year", "2020")
    assert result.stdout == "" and "no paper matches" in result.stderr
    result = run("list", "--modality", "vdeo", code=2)
    assert "--modality: unknown term 'vdeo' (did you mean 'video'?)" in result.stderr
    result = run("list", "--year", "last", code=2)
    assert "--year: 'last' is not a year or range" in result.stderr


def test_list_table_fits_the_width(catalog, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    lines = run("list").output.splitlines()
    assert max(len(line) for line in lines[:-1]) <= 120
    assert any("…" in line for line in lines)


def test_list_json_has_a_stable_documented_shape(catalog):
    doc = json.loads(run("list", "--format", "json", "--modality", "audio").output)
    assert list(doc) == ["schema_version", "tokzoo_version", "count", "papers"]
    assert doc["schema_version"] == 2 and doc["count"] == 1
    paper = doc["papers"][0]
    assert list(paper) == ["id", "title", "short_name", "authors", "section_year", "arxiv_published", "venue", "arxiv",
                           "links", "code_license", "modality", "technique", "family", "training_free", "zoo", "added",
                           "sources", "year"]
    assert paper["year"] == paper["section_year"] == 2024  # 'year': the deprecated schema_version 1 name, kept
    assert paper["venue"] == {"name": "Interspeech", "year": 2024, "kind": "conference", "note": None}
    assert paper["links"] == {"paper": "https://www.isca-archive.org/interspeech_2024/example.pdf", "code": None,
                              "other_code": [], "project": None, "other": []}
    assert paper["added"] == "upstream" and paper["sources"]["venue"] is None
    assert paper["arxiv"] is None and paper["zoo"] == {"status": "planned", "method": None}
    assert json.loads(run("list", "-F", "json").output)["count"] == 6


def test_list_yaml_is_a_valid_catalog(catalog):
    out = run("list", "--format", "yaml", "--technique", "merging").output
    parsed, issues = validate_text(out)
    assert issues == [] and [p.id for p in parsed.papers] == ["vidtome", "fastast", "token-pooling"]
    assert yaml.safe_load(out)["schema_version"] == 2 and "year" not in yaml.safe_load(out)["papers"][0]


def test_list_csv(catalog):
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv").output)))
    assert [r["id"] for r in rows] == FIXTURE_IDS
    assert list(rows[0]) == list(CSV_COLUMNS)
    pooling = rows[FIXTURE_IDS.index("token-pooling")]
    assert pooling["modality"] == "image;video" and pooling["technique"] == "pooling;merging"
    assert pooling["venue_kind"] == "workshop" and pooling["other"] == "https://huggingface.co/example/token-pooling"
    assert rows[0]["title"].startswith("An Image is Worth 1/2 Tokens After Layer 2: Plug")


def test_list_bibtex(catalog):
    out = run("list", "--format", "bibtex", "--year", "2025").output
    assert out.startswith("@article{todo,\n") and "journal = {IEEE Transactions on Pattern Analysis" in out
    assert r"High-Resolution Images \& Videos" in out
    assert out.count("@") == 1


def test_show_text_has_every_field_and_link(catalog):
    out = run("show", "fastv").output
    assert out.startswith("FastV: An Image is Worth 1/2 Tokens")
    for expected in ("ECCV 2024 Oral (conference)", "2403.06764", "https://arxiv.org/abs/2403.06764",
                     "https://github.com/pkunlp-icler/FastV", "image", "pruning", "vlm", "training-free  yes",
                     "implemented (method 'fastv')", 'zoo.apply(model, "fastv")', "tokzoo cite fastv"):
        assert expected in out
    out = run("show", "token-pooling").output
    assert "https://huggingface.co/example/token-pooling" in out and "short name     -" in out


def test_show_gives_the_derived_repro_status_of_an_implemented_paper(monkeypatch):
    from zoo import repro

    monkeypatch.setenv("TOKZOO_CATALOG", str(ROOT / "catalog.yaml"))
    out = run("show", "fastv").output
    assert re.search(r"\n  repro +" + re.escape(f"{repro.paper_status_line('fastv')} (run: tokzoo repro fastv)"), out)
    assert "analytic " in out  # status per kind, never one word alone
    assert "repro " not in run("show", "vidtome").output  # not implemented


def test_show_by_arxiv_and_name_and_formats(catalog):
    assert json.loads(run("show", "arXiv:2312.10656v2", "--format", "json").output)["paper"]["id"] == "vidtome"
    assert json.loads(run("show", "vidtome", "-F", "json").output)["schema_version"] == 2
    assert run("show", "locret", "-F", "bibtex").output.startswith("@misc{locret,")
    assert yaml.safe_load(run("show", "Locret", "-F", "yaml").output)["papers"][0]["id"] == "locret"


def test_show_near_miss_suggests(catalog):
    result = run("show", "fastvv", code=1)
    assert "no paper 'fastvv'" in result.stderr and "did you mean: fastv, fastast" in result.stderr


def test_stats(catalog):
    out = run("stats").output
    assert out.startswith("6 papers (5 with an arXiv id, 3 with code, 3 training-free)")
    for section in ("section year", "modality", "technique", "family", "venue", "venue kind", "zoo status"):
        assert f"\n{section}" in out
    doc = json.loads(run("stats", "--format", "json", "--modality", "image").output)
    assert doc["total"]["papers"] == 3 and doc["modality"] == {"image": 3, "video": 1}
    assert doc["venue"] == {"ECCV": 1, "NeurIPSW": 1, "TPAMI": 1}


def test_validate_ok_and_broken(catalog, tmp_path):
    assert run("validate").output == f"{catalog}: OK (6 papers)\n"
    broken_text = FIXTURE_YAML.replace("technique: [kv-compression]", "technique: [kv-cache]")
    broken = write_catalog(tmp_path, broken_text, name="broken.yaml")
    result = run("validate", str(broken), code=1)
    line = line_of(broken_text, "kv-cache")
    assert result.stdout.startswith(f"{broken}:{line}: entry 3 (id 'locret'): field 'technique[0]': unknown term 'kv-cache'")
    assert "allowed: pruning, merging" in result.stdout and "1 problem" in result.stderr
    result = run("list", "--catalog", str(broken), code=1)
    assert "is invalid (1 problems)" in result.stderr and "kv-cache" in result.stderr


def test_validate_schema_option(catalog):
    assert json.loads(run("validate", "--schema").output) == catalog_json_schema()


def test_cite(catalog):
    out = run("cite", "fastv", "2312.10656", "fastast").output
    assert out.count("\n@") == 2 and out.startswith("@inproceedings{fastv,\n")
    assert "booktitle = {European Conference on Computer Vision (ECCV)}" in out
    assert "eprint = {2403.06764}" in out and "note = {Oral}" in out and "year = {2024}" in out
    assert "@inproceedings{vidtome," in out and "Interspeech" in out
    result = run("cite", "fastv", "nope-nope", code=1)
    assert result.stdout == "" and "no paper 'nope-nope'" in result.stderr


def test_catalog_option_beats_env(catalog, tmp_path):
    other = write_catalog(tmp_path, FIXTURE_YAML.replace("short_name: Locret", "short_name: LocretX"), name="other.yaml")
    assert "LocretX" in run("show", "locret", "--catalog", str(other)).output


def test_real_catalog_video_listing():
    result = CliRunner().invoke(app, ["list", "--modality", "video", "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["count"] >= 40 and all("video" in p["modality"] for p in doc["papers"])


def test_import_zoo_cli_stays_light():
    code = "import sys, zoo.cli; print(sorted(m for m in ('torch', 'transformers', 'timm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "zoo", "show", "tome"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.startswith("ToMe: Token Merging: Your ViT But Faster")
