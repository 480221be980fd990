"""Validation issues with their location: file, line, entry and field, plus what is allowed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Issue:
    """One problem found in a catalog file.

    ``entry`` is the 0-based index in ``papers`` (None for file-level problems), ``entry_id``
    the entry's id when it has a readable one, ``field`` a dotted path inside the entry
    (``'modality[0]'``, ``'venue.kind'``) and ``allowed`` the accepted values, when closed.
    """

    file: str
    line: Optional[int]
    message: str
    entry: Optional[int] = None
    entry_id: Optional[str] = None
    field: Optional[str] = None
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        parts = [where]
        if self.entry is not None:
            ident = f" (id {self.entry_id!r})" if self.entry_id else ""
            parts.append(f"entry {self.entry + 1}{ident}")
        if self.field:
            parts.append(f"field {self.field!r}")
        text = ": ".join(parts) + f": {self.message}"
        if self.allowed:
            text += "; allowed: " + ", ".join(self.allowed)
        return text


@dataclass
class CatalogError(Exception):
    """Raised when a catalog file cannot be loaded; ``issues`` lists every problem found."""

    path: str
    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.path}: {len(self.issues)} problem{'s' if len(self.issues) != 1 else ''}"
        return "\n".join([head] + [f"  {issue}" for issue in self.issues])
