"""``tokzoo sync``: compare the catalog with the upstream awesome list; optionally apply.

Parsing and matching are the catalog's own (:func:`zoo.catalog.upstream.parse_upstream`,
:func:`~zoo.catalog.upstream.plan_import`, :func:`zoo.catalog.edit.apply_import`): a
curated value is never overwritten, only empty fields are filled, and differences are
reported. What this module adds:

- reading the list from a file or URL (with a timeout and a clear offline error), and
  saying what was read (which list, how many papers, which labels file, which catalog);
- a report in three parts: new papers, changed papers (filled fields and kept
  differences), papers no longer upstream (kept; papers the zoo added itself, marked
  ``added: tokzoo``, are listed apart as expected);
- labels for the new papers: curated ones from a labels file (default
  ``tools/upstream/labels.yaml`` next to the catalog: id, short_name, modality, technique,
  family, training_free per arXiv id or ``lineNNN``), else the keyword proposer's (and the
  arXiv abstracts with ``fetch_abstracts``); papers neither can label are left out and listed;
- for ``--write``: the whole new catalog is validated before one atomic write.
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
DEFAULT_LABELS = Path("tools") / "upstream" / "labels.yaml"
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
    curated: list[str] = field(default_factory=list)  # new ids whose labels came from the labels file
    label_warnings: list[str] = field(default_factory=list)
    new_text: Optional[str] = None
    old_text: str = ""
    upstream_count: int = 0

    @property
    def new(self) -> list[Any]:
        return self.plan.additions

    @property
    def changed(self) -> list[Any]:
        return [c for c in self.plan.changes if c.action == "fill"] + [n for n in self.plan.notes if n.action == "differs"]

    @property
    def removed(self) -> list[Any]:
        return [n for n in self.plan.notes if n.action == "missing"]

    @property
    def zoo_added(self) -> list[Any]:
        return [n for n in self.plan.notes if n.action in {"tokzoo", "now-upstream"}]

    def text(self) -> str:
        left_out = f" ({len(self.unlabelled)} left out, see '?')" if self.unlabelled else ""
        lines = [f"New upstream papers: {len(self.new) + len(self.unlabelled)}{left_out}"]
        for change in self.new:
            labels = change.new
            tag = (f"  [{', '.join(labels['technique'])} | {', '.join(labels['family'])}]"
                   if labels.get("technique") else "")
            origin = " (curated labels)" if change.paper_id in self.curated else ""
            lines.append(f"  + {change.paper_id} (line {change.line}): {labels.get('title', '')}{tag}{origin}")
        for pid, why in self.unlabelled.items():
            lines.append(f"  ? {pid}: left out, {why}")
        fills = [c for c in self.changed if c.action == "fill"]
        differs = [c for c in self.changed if c.action == "differs"]
        lines.append(f"Changed papers: {len(fills)} empty field(s) to fill from upstream, "
                     f"{len(differs)} difference(s) kept (the catalog's curated value wins)")
        lines += [f"  {c}" for c in fills + differs]
        lines.append(f"No longer in the upstream list (kept in the catalog): {len(self.removed)}")
        lines += [f"  - {c.paper_id}" for c in self.removed]
        if self.zoo_added:
            lines.append(f"Added by tokzoo (added: tokzoo; not expected upstream): {len(self.zoo_added)}")
            lines += [f"  {c}" for c in self.zoo_added]
        duplicates = [p for p in self.plan.problems if p.kind == "duplicate"]
        unreadable = [p for p in self.plan.problems if p.kind != "duplicate"]
        if duplicates:
            lines.append(f"Listed twice upstream (the first is used): {len(duplicates)}")
            lines += [f"  {p}" for p in duplicates]
        if unreadable:
            lines.append(f"Upstream lines that could not be read: {len(unreadable)}")
            lines += [f"  {p}" for p in unreadable]
        lines += [f"warning: {w}" for w in self.label_warnings]
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


def _curate(change: Any, fields: Any, taken: set[str]) -> tuple[Optional[dict[str, Any]], str]:
    """The new entry with curated ``fields`` applied, or (None, why it cannot be used)."""
    from zoo.catalog.edit import LABEL_FIELDS, LabelMergeReport, _check_labels

    check = LabelMergeReport()
    if not _check_labels(change.paper_id, fields, check, complete=True):
        return None, "its curated labels are invalid: " + "; ".join(check.errors)
    entry = dict(change.new)
    new_id = str(fields["id"])
    if new_id != change.paper_id and new_id in taken:
        return None, f"its curated id {new_id!r} is already used (or retired)"
    for name in LABEL_FIELDS:
        value = fields[name]
        entry[name] = [value] if name in {"modality", "technique", "family"} and isinstance(value, str) else value
    return entry, ""


def plan_sync(catalog: Path, upstream_text: str, *, prepare_write: bool = False,
              abstracts: Optional[Callable[[list[str]], dict[str, str]]] = None,
              labels: Optional[dict[str, dict[str, Any]]] = None) -> SyncReport:
    """Compare ``catalog`` with the list; with ``prepare_write`` also build the validated new text.

    ``labels`` (key -> curated fields, as read by :func:`zoo.catalog.edit.read_label_files`)
    label the new papers they name; the others get keyword proposals (``abstracts``: arXiv
    ids -> abstract text improves those).
    """
    from zoo.catalog.edit import apply_import, require_current
    from zoo.catalog.upstream import parse_upstream, plan_import
    from zoo.contrib.catalog_edit import CatalogDocument, CatalogEditError

    catalog = Path(catalog)
    doc = CatalogDocument.load(catalog)  # validates first: an invalid catalog is never edited
    try:
        require_current(doc.plain, catalog)
    except ValueError as exc:
        raise CatalogEditError(str(exc)) from None
    old_text = doc.text
    parsed = parse_upstream(upstream_text)
    if not parsed.entries:
        raise SyncError("no paper found in the upstream text (expected '- ...' lines under '## <year>' headings)")
    plan = plan_import(doc.plain or {}, parsed)
    report = SyncReport(catalog=catalog, plan=plan, old_text=old_text, upstream_count=len(parsed.entries))
    labels = dict(labels or {})

    ids = [c.new.get("arxiv") for c in plan.additions if c.new.get("arxiv") and c.new.get("arxiv") not in labels]
    texts = abstracts(ids) if (abstracts and ids) else {}
    taken = doc.ids() | {c.paper_id for c in plan.additions}
    renamed: dict[str, str] = {}
    dropped: set[str] = set()
    used_keys: set[str] = set()
    labelled = []
    for change in plan.changes:
        if change.action != "add":
            labelled.append(change)
            continue
        entry = dict(change.new)
        key = entry.get("arxiv") or f"line{change.line}"
        if key in labels:
            used_keys.add(key)
            curated, why = _curate(change, labels[key], taken)
            if curated is None:
                dropped.add(change.paper_id)
                report.unlabelled[change.paper_id] = why
                continue
            new_id = str(labels[key]["id"])
            if new_id != change.paper_id:
                renamed[change.paper_id] = new_id
                taken.add(new_id)
            report.curated.append(new_id)
            labelled.append(dataclasses.replace(change, paper_id=new_id, new={**curated, "id": new_id}))
            continue
        proposal = propose_labels(entry["title"], texts.get(entry.get("arxiv") or "", ""))
        missing = proposal.missing()
        if missing:
            dropped.add(change.paper_id)
            report.unlabelled[change.paper_id] = (
                f"no keyword suggests its {', '.join(missing)}; add it with `tokzoo add "
                f"{entry.get('arxiv') or '--title ...'}` and give --{' --'.join(missing)}, or give its labels "
                f"in the labels file under {key!r}")
            continue
        entry.update(modality=proposal.modality, technique=proposal.technique, family=proposal.family,
                     training_free=proposal.training_free)
        report.label_reasons[change.paper_id] = proposal.explain()
        labelled.append(dataclasses.replace(change, new=entry))
    plan.changes = labelled
    if renamed:
        plan.insert_after = {renamed.get(k, k): (renamed.get(v, v) if v else v) for k, v in plan.insert_after.items()}
    _drop_additions(plan, dropped)
    known = {str(p.get("arxiv")) for p in doc.papers if p.get("arxiv")}
    for key in labels:
        if key not in used_keys and key not in known:
            report.label_warnings.append(f"labels for {key!r}: no new upstream paper with this key (unused)")

    if prepare_write and plan.changes:
        with tempfile.TemporaryDirectory(prefix="tokzoo-sync-") as tmp:
            scratch = Path(tmp) / catalog.name
            shutil.copyfile(catalog, scratch)
            apply_import(scratch, plan)
            new_text = scratch.read_text(encoding="utf-8")
        report.new_text = checked_text(catalog, old_text, new_text, allow_changes=True)
    return report
