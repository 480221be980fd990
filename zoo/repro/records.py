"""Result records: one JSON file per claim under ``repro/results/<paper_id>/<claim_id>.json``.

A record says what was measured, against what reported number, with which status, where
(hardware), with what (versions, commit, method parameters), when, and by whom
(``source``: ``paper`` | ``tokzoo`` | ``community``; the paper's own citation is ``claim_source``). Files are written atomically. A
``skipped`` record never replaces a measured one (a run on a machine without a GPU must not
erase a GPU result).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

#: status of one claim in one run
RECORD_STATUS: dict[str, str] = {
    "reproduced": "Measured within tolerance of the reported value.",
    "deviates": "Measured outside tolerance (reason given when known).",
    "failed": "The measurement raised an error (message kept).",
    "inconclusive": "Measured, but the machine was too busy (load recorded) for a verdict on a speed claim.",
    "skipped": "Not measured here: a need (cuda, weights, dataset) is missing, or the claim is on demand.",
}
#: who produced a record
SOURCES: dict[str, str] = {
    "paper": "A number taken from the paper itself (no tokzoo measurement).",
    "tokzoo": "Measured by tokzoo's maintainers with the repro script.",
    "community": "Measured by a user with the repro script and contributed.",
}
SCHEMA_VERSION = 1


@dataclass
class Record:
    paper_id: str
    claim_id: str
    kind: str
    status: str
    reported: float
    unit: str
    measured: Optional[float] = None
    reason: str = ""
    direction: str = "equal"
    tolerance: float = 0.0
    setting: dict[str, Any] = field(default_factory=dict)
    claim_source: str = ""
    claim_source_url: str = ""
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    hardware: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    commit: str = ""
    date: str = ""
    source: str = "tokzoo"
    duration_s: float = 0.0
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.status not in RECORD_STATUS:
            raise ValueError(f"record {self.paper_id}/{self.claim_id}: status={self.status!r}; allowed: {', '.join(RECORD_STATUS)}")
        if self.source not in SOURCES:
            raise ValueError(f"record {self.paper_id}/{self.claim_id}: source={self.source!r}; allowed: {', '.join(SOURCES)}")

    @property
    def measured_here(self) -> bool:
        return self.status != "skipped"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str = "") -> "Record":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path or 'record'}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"{path or 'record'}: {exc}") from None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` via a temp file in the same folder + ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def record_path(results_dir: Path, paper_id: str, claim_id: str) -> Path:
    return Path(results_dir) / paper_id / f"{claim_id}.json"


def save_record(record: Record, results_dir: Path) -> Optional[Path]:
    """Write ``record``; returns its path, or ``None`` when a skipped record would replace a measured one."""
    path = record_path(results_dir, record.paper_id, record.claim_id)
    if record.status == "skipped" and path.exists():
        try:
            old = read_record(path)
        except ValueError:
            old = None
        if old is not None and old.measured_here:
            return None
    write_json_atomic(path, record.to_dict())
    return path


def read_record(path: Path) -> Record:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a record must be a JSON object")
    return Record.from_dict(data, path=str(path))


def read_records(results_dir: Path, paper_id: str) -> list[Record]:
    """Every record of ``paper_id`` under ``results_dir`` (sorted by claim id)."""
    folder = Path(results_dir) / paper_id
    if not folder.is_dir():
        return []
    return [read_record(p) for p in sorted(folder.glob("*.json"))]
