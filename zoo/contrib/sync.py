"""``tokzoo sync``: compare the catalog with the upstream awesome list; optionally apply.

Parsing and matching are the catalog's own (:func:`zoo.catalog.upstream.parse_upstream`,
:func:`~zoo.catalog.upstream.plan_import`, :func:`zoo.catalog.edit.apply_import`): a
curated value is never overwritten, only empty fields are filled, and differences are
reported. What this module adds:

- reading the list from a file or URL (with a timeout and a clear offline error);
- a report in three parts: new papers, changed papers (filled fields and kept
  differences), papers no longer upstream (kept);
- for ``--write``: labels for the new papers from the keyword proposer (and the arXiv
  abstracts with ``fetch_abstracts``), papers it cannot label are left out and listed,
  then the whole new catalog is validated before one atomic write.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from zoo.contrib.catalog_edit import checked_text, unified_diff, write_checked
from zoo.contrib.labels import propose_labels

DEFAULT_UPSTREAM = Path("tools") / "upstream" / "awesome-token-reduction.md"
USER_AGENT = "tokzoo-sync (upstream list check)"
#: The raw markdown of the upstream awesome list (its default branch).
UPSTREAM_URL = "https://raw.githubusercontent.com/sangminwoo/awesome-token-reduction/HEAD/README.md"


class SyncError(Exception):
    """The upstream list could not be read; the message says why (nothing was written)."""


def read_upstream(source: str | Path, timeout: float = 20.0) -> str:
    """The list's markdown from a path or an http(s) URL (fetched with ``timeout`` seconds)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        request = urllib.request.Request(text, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only)
                return response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            raise SyncError(f"{text} answered HTTP {exc.code}; for a GitHub file use its raw URL "
                            "(https://raw.githubusercontent.com/<owner>/<repo>/<branch>/README.md)") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SyncError(f"cannot fetch {text} ({reason}); are you offline? Pass a local copy of the list "
                            "instead: tokzoo sync path/to/README.md") from None
        except UnicodeDecodeError as exc:
            raise SyncError(f"{text} is not UTF-8 text: {exc}") from None
    try:
        return Path(text).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncError(f"cannot read the upstream list {text}: {exc}") from None


@dataclass
class SyncReport:
    """What a sync found; ``plan`` is the catalog importer's :class:`ImportPlan`."""

    catalog: Path
    plan: Any
    unlabelled: dict[str, str] = field(default_factory=dict)  # new id -> why it was left out
    label_reasons: dict[str, list[str]] = field(default_factory=dict)
    new_text: Optional[str] = None
    old_text: str = ""

    @property
    def new(self) -> list[Any]:
        return self.plan.additions

    @property
    def changed(self) -> list[Any]:
        return [c for c in self.plan.changes if c.action == "fill"] + [n for n in self.plan.notes if n.action == "differs"]

    @property
    def removed(self) -> list[Any]:
        return [n for n in self.plan.notes if n.action == "missing"]

    def text(self) -> str:
        left_out = f" ({len(self.unlabelled)} left out, see '?')" if self.unlabelled else ""
        lines = [f"New upstream papers: {len(self.new) + len(self.unlabelled)}{left_out}"]
        for change in self.new:
            labels = change.new
            tag = (f"  [{', '.join(labels['technique'])} | {', '.join(labels['family'])}]"
                   if labels.get("technique") else "")
            lines.append(f"  + {change.paper_id} (line {change.line}): {labels.get('title', '')}{tag}")
        for pid, why in self.unlabelled.items():
            lines.append(f"  ? {pid}: left out, {why}")
        fills = [c for c in self.changed if c.action == "fill"]
        differs = [c for c in self.changed if c.action == "differs"]
        lines.append(f"Changed papers: {len(fills)} empty field(s) to fill from upstream, "
                     f"{len(differs)} difference(s) kept (the catalog's curated value wins)")
        lines += [f"  {c}" for c in fills + differs]
        lines.append(f"No longer in the upstream list (kept in the catalog): {len(self.removed)}")
        lines += [f"  - {c.paper_id}" for c in self.removed]
        if self.plan.problems:
            lines.append(f"Upstream lines that could not be read: {len(self.plan.problems)}")
            lines += [f"  {p}" for p in self.plan.problems]
        return "\n".join(lines) + "\n"

    @property
    def behind(self) -> bool:
        """True when the list has papers or field values the catalog lacks."""
        return bool(self.plan.changes or self.unlabelled)

    def diff(self) -> str:
        return unified_diff(self.old_text, self.new_text or self.old_text, self.catalog.name)

    def write(self) -> None:
        if self.new_text is None:
            raise SyncError("nothing prepared to write; plan with prepare_write=True")
        write_checked(self.catalog, self.old_text, self.new_text)


def _drop_additions(plan: Any, dropped: set[str]) -> None:
    """Remove additions from ``plan``, re-chaining ``insert_after`` around them."""
    for pid in list(plan.insert_after):
        after = plan.insert_after[pid]
        while after in dropped:
            after = plan.insert_after.get(after)
        plan.insert_after[pid] = after
    for pid in dropped:
        plan.insert_after.pop(pid, None)
    plan.changes = [c for c in plan.changes if not (c.action == "add" and c.paper_id in dropped)]


def plan_sync(catalog: Path, upstream_text: str, *, prepare_write: bool = False,
              abstracts: Optional[Callable[[list[str]], dict[str, str]]] = None) -> SyncReport:
    """Compare ``catalog`` with the list; with ``prepare_write`` also build the validated new text.

    ``abstracts`` (arXiv ids -> abstract text) improves the label proposals of new papers.
    """
    from zoo.catalog.edit import apply_import, load_roundtrip
    from zoo.catalog.upstream import parse_upstream, plan_import

    catalog = Path(catalog)
    try:
        old_text = catalog.read_text(encoding="utf-8")
    except OSError as exc:
        raise SyncError(f"cannot read the catalog {catalog}: {exc}") from None
    parsed = parse_upstream(upstream_text)
    if not parsed.entries:
        raise SyncError("no paper found in the upstream text (expected '- ...' lines under '## <year>' headings)")
    plan = plan_import(load_roundtrip(catalog) or {}, parsed)
    report = SyncReport(catalog=catalog, plan=plan, old_text=old_text)

    ids = [c.new.get("arxiv") for c in plan.additions if c.new.get("arxiv")]
    texts = abstracts(ids) if (abstracts and ids) else {}
    dropped: set[str] = set()
    labelled = []
    for change in plan.changes:
        if change.action != "add":
            labelled.append(change)
            continue
        entry = dict(change.new)
        proposal = propose_labels(entry["title"], texts.get(entry.get("arxiv") or "", ""))
        missing = proposal.missing()
        if missing:
            dropped.add(change.paper_id)
            report.unlabelled[change.paper_id] = (
                f"no keyword suggests its {', '.join(missing)}; add it with `tokzoo add "
                f"{entry.get('arxiv') or '--title ...'}` and give --{' --'.join(missing)}")
            continue
        entry.update(modality=proposal.modality, technique=proposal.technique, family=proposal.family,
                     training_free=proposal.training_free)
        report.label_reasons[change.paper_id] = proposal.explain()
        labelled.append(dataclasses.replace(change, new=entry))
    plan.changes = labelled
    _drop_additions(plan, dropped)

    if prepare_write and plan.changes:
        with tempfile.TemporaryDirectory(prefix="tokzoo-sync-") as tmp:
            scratch = Path(tmp) / catalog.name
            shutil.copyfile(catalog, scratch)
            apply_import(scratch, plan)
            new_text = scratch.read_text(encoding="utf-8")
        report.new_text = checked_text(catalog, old_text, new_text, allow_changes=True)
    return report
