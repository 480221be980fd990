"""Result records: one JSON file per claim under ``repro/results/<paper_id>/<claim_id>.json``.

A record says what was measured, against what reported number, with which status, where
(hardware), with what (versions, commit, method parameters), when, and by whom
(``source``: ``paper`` | ``tokzoo`` | ``community``; the paper's own citation is ``claim_source``). Files are written atomically. A
``skipped`` record never replaces a measured one (a run on a machine without a GPU must not
erase a GPU result), and a file that is not a valid record is never overwritten silently
(:class:`CorruptRecord`).

Reading validates every file against :data:`RECORD_SCHEMA` (field types, closed values);
:func:`read_records` skips a bad file, names it and keeps going, so one corrupt file does not
hide a paper's other records.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

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

_NUMBER = (int, float)
#: field -> (allowed JSON types, required); numbers are finite, ``measured`` may be null
RECORD_SCHEMA: dict[str, tuple[tuple[type, ...], bool]] = {
    "paper_id": ((str,), True), "claim_id": ((str,), True), "kind": ((str,), True), "status": ((str,), True),
    "reported": (_NUMBER, True), "unit": ((str,), True), "measured": (_NUMBER + (type(None),), False),
    "reason": ((str,), False), "direction": ((str,), False), "tolerance": (_NUMBER, False),
    "setting": ((dict,), False), "claim_source": ((str,), False), "claim_source_url": ((str,), False),
    "method": ((str,), False), "params": ((dict,), False), "details": ((dict,), False), "label": ((str,), False),
    "hardware": ((dict,), False), "versions": ((dict,), False), "commit": ((str,), False), "date": ((str,), False),
    "source": ((str,), False), "duration_s": (_NUMBER, False), "schema_version": ((int,), False),
}


class CorruptRecord(ValueError):
    """A file under a results folder that is not a valid record (message names the file)."""


def schema_problems(data: Any) -> list[str]:
    """What is wrong with ``data`` as a record (empty when it is a valid one)."""
    from zoo.vocab import CLAIM_KIND

    if not isinstance(data, dict):
        return [f"a record must be a JSON object, got {type(data).__name__}"]
    out = []
    unknown = sorted(set(data) - set(RECORD_SCHEMA))
    if unknown:
        out.append(f"unknown field(s) {', '.join(map(str, unknown))}")
    for name, (types, required) in RECORD_SCHEMA.items():
        if name not in data:
            if required:
                out.append(f"missing field {name!r}")
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, types):
            names = {"str": "string", "int": "integer", "float": "number", "dict": "object", "NoneType": "null"}
            allowed = " or ".join(dict.fromkeys("number" if t in _NUMBER and float in types else names[t.__name__]
                                                for t in types))
            out.append(f"{name}: expected {allowed}, got {type(value).__name__}")
        elif isinstance(value, float) and not math.isfinite(value):
            out.append(f"{name}: {value} is not a finite number")
    closed = {"status": RECORD_STATUS, "source": SOURCES, "kind": CLAIM_KIND,
              "direction": ("equal", "higher", "lower")}
    for name, allowed in closed.items():
        value = data.get(name)
        if isinstance(value, str) and value not in allowed:
            out.append(f"{name}={value[:40]!r}; allowed: {', '.join(allowed)}")
    return out


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
        """Validate ``data`` against :data:`RECORD_SCHEMA` and build the record (``CorruptRecord`` naming
        ``path`` otherwise)."""
        problems = schema_problems(data)
        if problems:
            raise CorruptRecord(f"{path or 'record'}: " + "; ".join(problems))
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise CorruptRecord(f"{path or 'record'}: {exc}") from None


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
    """Write ``record``; returns its path, or ``None`` when a skipped record would replace a measured one
    (or an inconclusive one a verdict).

    Raises :class:`CorruptRecord` (and writes nothing) when the file there is not a valid
    record: it may be a hand edit or a half-written contribution, so it is left for a person
    to look at instead of being replaced silently.
    """
    path = record_path(results_dir, record.paper_id, record.claim_id)
    if path.exists():
        try:
            old = read_record(path)
        except CorruptRecord as exc:
            raise CorruptRecord(f"{exc}; not overwritten: fix or delete {path}, then run again") from None
        if record.status == "skipped" and old.measured_here:
            return None
        if record.status == "inconclusive" and old.status in ("reproduced", "deviates"):
            return None  # a busy-machine run does not erase a verdict
    write_json_atomic(path, record.to_dict())
    return path


def read_record(path: Path) -> Record:
    """One record file, validated (``CorruptRecord`` naming the file when it is not a record)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptRecord(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise CorruptRecord(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return Record.from_dict(data, path=str(path))


def read_records(results_dir: Path, paper_id: str, *,
                 on_problem: Optional[Callable[[str], None]] = None) -> list[Record]:
    """Every valid record of ``paper_id`` under ``results_dir`` (sorted by claim id).

    A file that is not a valid record is skipped; ``on_problem(message)`` gets the message
    naming it (default: a ``warnings.warn``), and the other records are still returned.
    """
    folder = Path(results_dir) / paper_id
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("*.json")):
        try:
            rec = read_record(p)
            if (rec.paper_id, rec.claim_id) != (paper_id, p.stem):
                raise CorruptRecord(f"{p}: holds the record of {rec.paper_id}/{rec.claim_id}, "
                                    f"expected {paper_id}/{p.stem} (the file's place)")
            out.append(rec)
        except CorruptRecord as exc:
            message = f"skipped a corrupt record: {exc}"
            if on_problem is not None:
                on_problem(message)
            else:
                warnings.warn(message, stacklevel=2)
    return out
