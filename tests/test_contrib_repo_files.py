"""The contributor-facing files agree with the code: commands exist, vocabularies match,
CI and pre-commit run the same checks."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
import yaml

from zoo import vocab
from zoo.cli import app

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "CONTRIBUTING.md", REPO / ".github" / "PULL_REQUEST_TEMPLATE.md",
        *sorted((REPO / ".github" / "ISSUE_TEMPLATE").glob("*.yml")),
        *sorted((REPO / ".github" / "workflows").glob("*.yml")), REPO / ".pre-commit-config.yaml"]


def _commands() -> set[str]:
    return set(typer.main.get_command(app).commands)


def _code_spans(text: str) -> list[str]:
    """Inline code, fenced code lines, and YAML ``run:``/``entry:`` commands of a file."""
    spans = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    text = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.DOTALL)
    spans += re.findall(r"`([^`\n]+)`", text)
    spans += re.findall(r"^\s*(?:-\s*)?(?:run|entry):\s*[>|]?-?\s*(.*?)$", text, re.MULTILINE)
    spans += re.findall(r"^\s{8,}(tokzoo .*)$", text, re.MULTILINE)  # continuation lines of YAML block scalars
    return spans


def test_every_tokzoo_command_mentioned_exists():
    known = _commands()
    mentioned = set()
    for path in DOCS:
        for span in _code_spans(path.read_text(encoding="utf-8")):
            for name in re.findall(r"\btokzoo ([a-z][a-z-]*)", span):
                mentioned.add(name)
                assert name in known, f"{path.name}: `tokzoo {name}` is not a command (known: {sorted(known)})"
    assert {"add", "new-method", "sync", "validate", "pr-check", "repro"} <= mentioned


def test_issue_form_dropdowns_match_the_vocabularies():
    expected = {"modality": vocab.MODALITY, "technique": vocab.TECHNIQUE, "family": vocab.FAMILY,
                "placement": vocab.PLACEMENT}
    seen = set()
    for path in (REPO / ".github" / "ISSUE_TEMPLATE").glob("*.yml"):
        form = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name == "config.yml":
            continue
        assert {"name", "description", "body"} <= set(form), path.name
        for item in form["body"]:
            if item["type"] == "dropdown" and item["id"] in expected:
                assert item["attributes"]["options"] == list(expected[item["id"]]), f"{path.name}: {item['id']}"
                seen.add(item["id"])
    assert seen == set(expected)


def test_ci_runs_validate_pr_rules_tests_lint_and_site():
    ci = (REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    runs = "\n".join(step.get("run", "") for job in yaml.safe_load(ci)["jobs"].values() for step in job["steps"])
    for needed in ("tokzoo validate", "tokzoo pr-check", "bash .ci/run", "pre-commit run --all-files",
                   "tokzoo site build"):
        assert needed in runs, needed
    refresh = yaml.safe_load((REPO / ".github" / "workflows" / "refresh.yml").read_text(encoding="utf-8"))
    assert "schedule" in refresh[True] and "pull_request" not in refresh[True]  # `on:` parses as True
    assert (REPO / "tools" / "refresh_metadata.py").is_file()


def test_pre_commit_and_ci_use_the_same_validator_and_ruff():
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert hooks["tokzoo-validate"]["entry"] == "tokzoo validate"
    assert hooks["tokzoo-validate"]["pass_filenames"] is False
    pin = hooks["ruff"]["additional_dependencies"][0]
    assert pin in (REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert f'"{pin}"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
