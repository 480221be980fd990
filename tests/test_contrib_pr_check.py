"""`tokzoo pr-check`: the CI gate for contributions, with messages that say what to fix."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import write_small_catalog
from zoo.cli import app
from zoo.contrib.pr_check import Finding, check_catalog, check_results, github_annotation

MANUAL = ["--url", "https://example.org/p.pdf", "--venue", "CVPR 2024", "--technique", "pruning"]


def _add(catalog: Path, title: str):
    result = CliRunner().invoke(app, ["add", "--catalog", str(catalog), "--title", title, *MANUAL])
    assert result.exit_code == 0, result.output


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return write_small_catalog(tmp_path / "catalog.yaml")


def test_one_new_paper_passes_two_fail_with_the_line_of_the_extra_one(catalog):
    base = catalog.read_text()
    _add(catalog, "Visual Token Pruning for Multimodal Large Language Models, Part One")
    assert check_catalog(catalog.read_text(), "catalog.yaml", base) == []
    _add(catalog, "Visual Token Pruning for Multimodal Large Language Models, Part Two")
    text = catalog.read_text()
    [finding] = check_catalog(text, "catalog.yaml", base)
    assert "adds 2 papers" in finding.message and "one paper per pull request" in finding.message
    assert text.splitlines()[finding.line - 1].strip().startswith("- id: ")
    assert check_catalog(text, "catalog.yaml", base, max_new_papers=0) == []


def test_removed_ids_must_be_retired(catalog):
    base = catalog.read_text()
    text = base.replace("  - id: tome\n", "  - id: tome-renamed\n")
    [finding] = check_catalog(text, "catalog.yaml", base)
    assert "entry 'tome' was removed or its id changed" in finding.message and "retired_ids" in finding.message
    retired = text + "retired_ids: [tome]\n"
    assert check_catalog(retired, "catalog.yaml", base) == []


def test_schema_problems_come_with_line_and_allowed_values(catalog):
    text = catalog.read_text().replace("technique: [merging]", "technique: [merge]")
    [finding] = check_catalog(text, "catalog.yaml", None)
    assert finding.line is not None and "unknown term 'merge'" in finding.message and "allowed: pruning" in finding.message
    assert github_annotation(finding).startswith(f"::error file=catalog.yaml,line={finding.line}::")


def test_contributed_results_must_say_community(tmp_path):
    folder = tmp_path / "repro" / "results" / "fastv"
    folder.mkdir(parents=True)
    record = {"paper_id": "fastv", "claim_id": "c1", "kind": "analytic", "status": "reproduced", "reported": 45.0,
              "unit": "%", "measured": 45.2, "source": "tokzoo"}
    (folder / "c1.json").write_text(json.dumps(record, indent=2))
    (folder / "c2.json").write_text("{not json")
    findings = check_results([folder / "c1.json", folder / "c2.json"], tmp_path)
    assert [f.file for f in findings] == ["repro/results/fastv/c1.json", "repro/results/fastv/c2.json"]
    assert "--source community" in findings[0].message and findings[0].line == 9
    assert "not a valid result record" in findings[1].message
    record["source"] = "community"
    (folder / "c1.json").write_text(json.dumps(record))
    assert check_results([folder / "c1.json"], tmp_path) == []
    assert check_results([folder / "c1.json"], tmp_path, require_community=False) == []


def test_cli_against_a_git_base(tmp_path):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, env=env, check=True, capture_output=True)

    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    git("init", "-q", "-b", "main")
    git("add", "catalog.yaml")
    git("commit", "-q", "-m", "base")
    _add(catalog, "Visual Token Pruning for Multimodal Large Language Models, Part One")
    _add(catalog, "Visual Token Pruning for Multimodal Large Language Models, Part Two")
    git("commit", "-q", "-am", "two papers")
    result = CliRunner().invoke(app, ["pr-check", "--catalog", str(catalog), "--base", "main~1", "--github"])
    assert result.exit_code == 1
    assert "adds 2 papers" in result.output and "::error file=" in result.output
    ok = CliRunner().invoke(app, ["pr-check", "--catalog", str(catalog), "--base", "main~1", "--max-new-papers", "0"])
    assert ok.exit_code == 0 and "pr-check: OK" in ok.output


def test_finding_text():
    assert str(Finding("catalog.yaml", "boom", 3)) == "catalog.yaml:3: boom"
