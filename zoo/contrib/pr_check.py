"""``tokzoo pr-check``: what CI checks on a pull request beyond the schema, with exact fixes.

- the catalog validates (the same validator as ``tokzoo validate`` and pre-commit), and no
  entry uses the old key ``year`` (schema_version 1's name of ``section_year``, still read);
- compared with the base branch: at most ``max_new_papers`` new papers (one paper per PR),
  and no id disappears (ids are permanent: a removed paper's id goes to ``retired_ids``);
- result records added or changed under ``repro/results/`` read as records and, for
  contributions, say ``source: community`` (tokzoo re-runs them before they count as
  ``tokzoo``).

Each finding names the file (and line when known) and what to do; :func:`github_annotation`
turns it into a GitHub Actions ``::error`` line so the message shows on the PR's diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional


@dataclass(frozen=True)
class Finding:
    file: str
    message: str
    line: Optional[int] = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def github_annotation(finding: Finding) -> str:
    """The ``::error file=...,line=...::message`` workflow command for ``finding``."""
    props = f"file={finding.file}" + (f",line={finding.line}" if finding.line else "")
    message = finding.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error {props}::{message}"


def _entries(data: Any) -> list[dict[str, Any]]:
    papers = data.get("papers") if isinstance(data, dict) else None
    return [p for p in (papers or []) if isinstance(p, dict) and isinstance(p.get("id"), str)]


def check_catalog(text: str, file: str, base_text: Optional[str], *, max_new_papers: int = 1) -> list[Finding]:
    """Validator issues, then the base comparison (new papers, vanished ids)."""
    import yaml

    from zoo.catalog import validate_text
    from zoo.catalog.validate import LineIndex

    parsed, issues = validate_text(text, file)
    findings = [Finding(file, _issue_message(issue), issue.line) for issue in issues]
    if parsed is not None:
        from zoo.catalog.edit import old_year_entries

        data = yaml.safe_load(text)
        lines = LineIndex.from_text(text)
        index = {p.get("id"): i for i, p in enumerate(data.get("papers") or []) if isinstance(p, dict)}
        for pid in old_year_entries(data):
            findings.append(Finding(file, f"entry {pid!r} uses the old key 'year'; since schema_version 2 it is "
                                          "'section_year' (run python tools/migrate_catalog.py)",
                                    lines.line(("papers", index[pid], "year"))))
    if base_text is None:
        return findings
    try:
        current = yaml.safe_load(text)
        base = yaml.safe_load(base_text)
    except yaml.YAMLError:
        return findings  # the validator has reported the syntax error
    lines = LineIndex.from_text(text)
    now = {p["id"]: i for i, p in enumerate(_entries(current))}
    before = {p["id"] for p in _entries(base)}
    retired = set((current or {}).get("retired_ids") or []) if isinstance(current, dict) else set()
    added = [pid for pid in now if pid not in before]
    if max_new_papers and len(added) > max_new_papers:
        findings.append(Finding(
            file,
            f"this pull request adds {len(added)} papers ({_some(added)}); the rule is one paper per pull "
            "request so each can be reviewed: keep one and open separate PRs for the others "
            "(maintainers importing upstream in bulk: label the PR bulk-import)",
            lines.line(("papers", now[added[max_new_papers]]))))
    for pid in sorted(before - set(now)):
        if pid not in retired:
            findings.append(Finding(
                file, f"entry {pid!r} was removed or its id changed; ids are permanent (links and citations use "
                f"them): restore the entry, or if the removal is intended add {pid!r} to retired_ids"))
    return findings


def _some(ids: list[str], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _issue_message(issue: Any) -> str:
    text = str(issue)
    prefix = f"{issue.file}:{issue.line}: " if issue.line is not None else f"{issue.file}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def check_results(paths: Iterable[Path], root: Path, *, require_community: bool = True) -> list[Finding]:
    """Every added/changed record must read as a Record; contributed ones must say community."""
    from zoo.repro.records import read_record

    findings = []
    for path in paths:
        rel = str(Path(path).resolve().relative_to(root.resolve())) if Path(path).is_absolute() else str(path)
        full = root / rel
        if full.suffix != ".json" or not full.is_file():
            continue
        try:
            record = read_record(full)
        except (ValueError, OSError) as exc:
            findings.append(Finding(rel, f"not a valid result record: {exc}. Records are written by "
                                         "`tokzoo repro <id> --source community`; do not edit them by hand"))
            continue
        if require_community and record.source != "community":
            line = _json_line(full, "source")
            findings.append(Finding(
                rel, f"source is {record.source!r}; results contributed by pull request are marked "
                f"'community' until tokzoo re-runs them: re-run `tokzoo repro {record.paper_id} "
                f"--claim {record.claim_id} --source community` (or set \"source\": \"community\")", line))
    return findings


def _json_line(path: Path, key: str) -> Optional[int]:
    needle = json.dumps(key) + ":"
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    return None
