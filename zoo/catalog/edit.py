"""Edit ``catalog.yaml`` in place through ruamel.yaml round-trip (comments and layout kept).

- :func:`apply_import` writes an :class:`~zoo.catalog.upstream.ImportPlan` (new papers,
  filled fields) into the file, creating it when missing.
- :func:`merge_labels` applies curated labels (id, short_name, modality, technique,
  family, training_free) keyed by arXiv id or ``lineNNN`` (line of the upstream list), and
  optionally zoo statuses.

Writes are atomic (temporary file + ``os.replace``); nothing is written when a merge finds
errors.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from zoo import vocab
from zoo.catalog.ids import PINNED_IDS
from zoo.catalog.loader import atomic_write_text
from zoo.catalog.schema import ID_PATTERN
from zoo.catalog.upstream import Change, ImportPlan, parse_upstream
from zoo.catalog.validate import normalized_title

PathLike = Union[str, Path]

HEADER = """\
# tokzoo catalog: every paper of the upstream list (Awesome Token Redundancy Reduction) and the papers
# the zoo adds beyond it (added: tokzoo); the source of truth.
# Schema: zoo/catalog/schema.py (JSON Schema: zoo/data/catalog.schema.json); vocabularies: zoo/vocab.py.
# Check: `tokzoo validate`. New upstream papers: `tokzoo sync --write`; metadata: tools/merge_metadata.py.
"""

PAPER_KEYS = ("id", "title", "short_name", "authors", "section_year", "arxiv_published", "venue", "arxiv", "links",
              "code_license", "modality", "technique", "family", "training_free", "zoo", "added", "sources")
LINK_KEYS = ("paper", "code", "other_code", "project", "other")
SOURCE_KEYS = ("authors", "arxiv_published", "venue", "code", "project", "code_license")


class CatalogVersionError(ValueError):
    """The catalog file uses an older schema_version than the editing tools write."""


def old_year_entries(data: Any) -> list[str]:
    """Ids of entries that still name section_year by its schema_version 1 name ``year``."""
    papers = data.get("papers") if hasattr(data, "get") else None
    return [str(p.get("id")) for p in (papers or []) if hasattr(p, "get") and "year" in p and "section_year" not in p]


def require_current(data: Any, path: Any) -> None:
    """Refuse to edit a catalog that still uses schema_version 1's ``year`` (the tools write version 2)."""
    version = data.get("schema_version") if hasattr(data, "get") else None
    old = old_year_entries(data)
    if version == 1 or old:
        what = "is a schema_version 1 catalog" if version == 1 else f"has entries with the old key 'year' ({', '.join(old[:5])})"
        raise CatalogVersionError(
            f"{path} {what}: 'year' is called 'section_year' since schema_version 2, which the editing tools write. "
            f"Migrate it first: python tools/migrate_catalog.py {path}")


def migrate_v1_text(text: str) -> str:
    """A catalog's text in schema_version 2: ``schema_version: 2`` and each entry's ``year:`` key
    (the version 1 name) renamed ``section_year:``. Line based, so comments and layout stay; a
    version 2 file with a few old-style entries is fixed the same way."""
    lines = text.splitlines(keepends=True)
    out = []
    in_entry_indent: Optional[int] = None
    for line in lines:
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if re.match(r"^schema_version:\s*1\s*(#.*)?$", line.rstrip("\n")):
            line = line.replace("1", "2", 1)
        elif stripped.startswith("- id:") or stripped.startswith("- {id:"):
            in_entry_indent = indent + 2
        elif in_entry_indent is not None and indent == in_entry_indent and stripped.startswith("year:"):
            line = " " * indent + "section_year:" + stripped[len("year:"):]
        out.append(line)
    return "".join(out)
LABEL_FIELDS = ("id", "short_name", "modality", "technique", "family", "training_free")
_LABEL_VOCAB = {"modality": vocab.MODALITY, "technique": vocab.TECHNIQUE, "family": vocab.FAMILY}


def roundtrip_yaml() -> Any:
    """A ruamel YAML instance with the catalog's layout (2-space maps, ``- `` indented by 2)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


#: characters that make a plain scalar inside a flow collection ambiguous for some YAML
#: parsers (PyYAML's pure-Python loader rejects e.g. ``?`` in ``{a: https://x?y=1, b: 2}``)
_FLOW_UNSAFE = set(",[]{}#?&*!|>'\"%@`")


def flow_safe(value: Any) -> Any:
    """``value``, single-quoted when it is a string that would be ambiguous as a plain scalar in a
    flow collection (so that every YAML loader reads the catalog the same way)."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(value, str) and not isinstance(value, SingleQuotedScalarString) and (
            _FLOW_UNSAFE & set(value) or ": " in value or value != value.strip() or value[:1] in "-:"):
        return SingleQuotedScalarString(value)
    return value


def _flow_map(values: Mapping[str, Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    node = CommentedMap({k: flow_safe(v) for k, v in values.items()})
    node.fa.set_flow_style()
    return node


def _flow_seq(values: Iterable[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    node = CommentedSeq([flow_safe(v) for v in values])
    node.fa.set_flow_style()
    return node


def paper_node(paper: Mapping[str, Any]) -> Any:
    """A catalog entry as a ruamel node in the catalog's style (flow venue/labels/zoo/sources).

    Optional keys without a value (no authors, no license, ``added: upstream``, no sources)
    are left out, so an entry holds only what is known."""
    from ruamel.yaml.comments import CommentedMap

    node = CommentedMap()
    for key in PAPER_KEYS:
        if key not in paper:
            continue
        value = paper[key]
        if key in {"authors", "arxiv_published", "code_license"} and not value:
            continue
        if key == "added" and value in (None, "upstream"):
            continue
        if key == "sources":
            value = {k: value[k] for k in SOURCE_KEYS if (value or {}).get(k)}
            if not value:
                continue
            value = _flow_map(value)
        elif key in {"venue", "zoo"}:
            value = _flow_map({k: v for k, v in value.items() if not (k == "note" and v is None) and not (key == "zoo" and k == "method" and v is None)})
        elif key == "links":
            links = CommentedMap()
            for link_key in LINK_KEYS:
                if value.get(link_key):
                    links[link_key] = list(value[link_key]) if link_key in {"other", "other_code"} else value[link_key]
            value = links
        elif key in {"modality", "technique", "family", "authors"}:
            value = _flow_seq(value)
        node[key] = value
    return node


def insert_key(entry: Any, key: str, value: Any) -> None:
    """Set ``entry[key]`` keeping the catalog's key order (:data:`PAPER_KEYS`) for a new key."""
    if key in entry or key not in PAPER_KEYS:
        entry[key] = value
        return
    order = PAPER_KEYS.index(key)
    position = sum(1 for k in entry if k in PAPER_KEYS and PAPER_KEYS.index(k) < order)
    entry.insert(position, key, value)


def load_roundtrip(path: PathLike) -> Any:
    with open(path, encoding="utf-8") as handle:
        return roundtrip_yaml().load(handle)


def dump_roundtrip(data: Any) -> str:
    out = io.StringIO()
    roundtrip_yaml().dump(data, out)
    return out.getvalue()


def _new_catalog() -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    data = CommentedMap()
    data["schema_version"] = 2
    data["papers"] = CommentedSeq()
    return data


def _papers_seq(data: Any) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    papers = data.get("papers")
    if papers is None:
        papers = data["papers"] = CommentedSeq()
    papers.fa.set_block_style()
    return papers


def _set_path(entry: Any, path: str, value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    if path == "venue":
        entry["venue"] = _flow_map({k: v for k, v in value.items() if v is not None or k == "year"})
        return
    parts = path.split(".")
    target = entry
    for part in parts[:-1]:
        if target.get(part) is None:
            node = CommentedMap()
            if part == "sources":
                node.fa.set_flow_style()
            if target is entry:
                insert_key(entry, part, node)
            else:
                target[part] = node
        target = target[part]
    key = parts[-1]
    if parts[0] == "links" and key not in target:
        order = [k for k in LINK_KEYS if k in target or k == key]
        target.insert(order.index(key), key, value)
    elif parts[0] == "sources" and key not in target:
        order = [k for k in SOURCE_KEYS if k in target or k == key]
        target.insert(order.index(key), key, flow_safe(value))
    elif len(parts) == 1:
        insert_key(target, key, value)
    else:
        target[key] = value


def apply_import(path: PathLike, plan: ImportPlan) -> int:
    """Write the plan's additions and fills into ``path`` (created if missing).

    Returns the number of changes written. New papers go right after the paper that
    precedes them upstream, so the catalog keeps the upstream order.
    """
    target = Path(path)
    data = load_roundtrip(target) if target.exists() else _new_catalog()
    if data is None:
        data = _new_catalog()
    require_current(data, target)
    papers = _papers_seq(data)
    index = {str(p.get("id")): p for p in papers}
    for change in plan.changes:
        if change.action == "add":
            node = paper_node(change.new)
            after = plan.insert_after.get(change.paper_id)
            position = 0
            if after is not None:
                position = next(i for i, p in enumerate(papers) if str(p.get("id")) == after) + 1
            papers.insert(position, node)
            index[change.paper_id] = node
        elif change.action == "fill":
            _set_path(index[change.paper_id], change.field, change.new)
    text = dump_roundtrip(data)
    if not target.exists():
        text = HEADER + text
    atomic_write_text(target, text)
    return len(plan.changes)


# ---------------------------------------------------------------------------------------
# curated labels


@dataclass
class LabelMergeReport:
    """What :func:`merge_labels` did (or would do, with ``dry_run``)."""

    updated: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    zoo: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ignored_fields: dict[str, int] = field(default_factory=dict)
    written: bool = False

    def summary(self) -> str:
        lines = [f"error: {e}" for e in self.errors] + [f"warning: {w}" for w in self.warnings]
        lines += [f"warning: field {name!r} ignored in {n} entries (merged fields: {', '.join(LABEL_FIELDS)})"
                  for name, n in self.ignored_fields.items()]
        lines += [f"renamed {old} -> {new}" for old, new in self.renamed]
        lines += [f"zoo {pid}: {status}" for pid, status in self.zoo]
        lines.append(
            f"{len(self.updated)} papers labelled, {len(self.renamed)} ids changed, "
            f"{len(self.unlabelled)} papers without labels, {len(self.errors)} errors"
            + ("" if self.written else " (nothing written)")
        )
        return "\n".join(lines) + "\n"


def read_label_files(paths: Iterable[PathLike]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Read curated label files (YAML mappings ``key -> fields``; a top-level ``labels:``
    mapping or list of ``{key: ...}`` items is accepted too). Returns labels and errors."""
    import yaml

    labels: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    errors: list[str] = []
    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        if isinstance(data, Mapping) and set(data) == {"labels"}:
            data = data["labels"]
        if isinstance(data, list):
            items = []
            for item in data:
                if isinstance(item, Mapping) and "key" in item:
                    items.append((str(item["key"]), {k: v for k, v in item.items() if k != "key"}))
                else:
                    errors.append(f"{path}: list item without 'key': {item!r}")
        elif isinstance(data, Mapping):
            items = [(str(k), v) for k, v in data.items()]
        else:
            errors.append(f"{path}: expected a mapping of keys (arXiv id or lineNNN) to label fields")
            continue
        for key, fields in items:
            if not isinstance(fields, Mapping):
                errors.append(f"{path}: {key}: expected a mapping of fields, got {fields!r}")
                continue
            if key in labels:
                errors.append(f"{path}: {key}: also labelled in {origin[key]}")
                continue
            labels[key] = dict(fields)
            origin[key] = str(path)
    return labels, errors


def _check_labels(key: str, fields: Mapping[str, Any], report: LabelMergeReport, complete: bool) -> bool:
    ok = True
    for name in fields:
        if name not in LABEL_FIELDS:
            report.ignored_fields[name] = report.ignored_fields.get(name, 0) + 1
    if complete:
        missing = [f for f in LABEL_FIELDS if f not in fields]
        if missing:
            report.errors.append(f"{key}: missing fields {', '.join(missing)}")
            ok = False
    for name, terms in _LABEL_VOCAB.items():
        if name not in fields:
            continue
        value = fields[name]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            report.errors.append(f"{key}: {name} must be a non-empty list; allowed: {', '.join(terms)}")
            ok = False
            continue
        bad = [v for v in value if v not in terms]
        if bad:
            report.errors.append(f"{key}: {name} has unknown terms {bad}; allowed: {', '.join(terms)}")
            ok = False
    if "training_free" in fields and not isinstance(fields["training_free"], bool):
        report.errors.append(f"{key}: training_free must be true or false, got {fields['training_free']!r}")
        ok = False
    if "id" in fields and not (isinstance(fields["id"], str) and re.match(ID_PATTERN, fields["id"])):
        report.errors.append(f"{key}: id {fields['id']!r} is not lowercase letters, digits and '-'")
        ok = False
    if "short_name" in fields and fields["short_name"] is not None and not (isinstance(fields["short_name"], str) and fields["short_name"].strip()):
        report.errors.append(f"{key}: short_name must be text or null")
        ok = False
    return ok


_KIND_RANK = {"conference": 0, "journal": 1, "workshop": 2, "preprint": 3}


def _resolve_clashes(papers: Any, final_ids: dict[int, str], pinned: set[str], report: LabelMergeReport) -> None:
    """Papers wanting the same id: a pinned paper keeps it, else the oldest (section year,
    venue year, then conference before journal, workshop, preprint); the others get the
    venue's short name appended (``tcformer-tpami``), or the year for preprints."""
    from zoo.catalog.ids import allocate_id, slugify

    groups: dict[str, list[Any]] = {}
    for paper in papers:
        groups.setdefault(final_ids[id(paper)], []).append(paper)
    taken = set(final_ids.values())
    for wanted, group in groups.items():
        if len(group) < 2:
            continue

        def rank(p: Any) -> tuple:
            venue = p.get("venue") or {}
            return (str(p.get("arxiv")) not in pinned and wanted not in pinned, p.get("section_year") or 9999,
                    venue.get("year") or 9999, _KIND_RANK.get(venue.get("kind"), 9))

        keeper, *others = sorted(group, key=rank)
        for paper in others:
            venue = paper.get("venue") or {}
            suffix = slugify(venue["name"]) if venue.get("kind") not in (None, "preprint") else str(paper.get("section_year"))
            new = allocate_id(f"{wanted}-{suffix}", taken, paper.get("section_year"))
            taken.add(new)
            final_ids[id(paper)] = new
            report.warnings.append(f"id clash on {wanted!r}: {keeper.get('title', '')[:50]!r} keeps it, "
                                   f"{paper.get('title', '')[:50]!r} gets {new!r}")


def merge_labels(
    catalog_path: PathLike,
    labels: Mapping[str, Mapping[str, Any]],
    upstream_text: str,
    *,
    pinned_ids: Mapping[str, str] = PINNED_IDS,
    zoo_status: Optional[Mapping[str, Mapping[str, Any]]] = None,
    require_complete: bool = False,
    resolve_clashes: bool = False,
    dry_run: bool = False,
) -> LabelMergeReport:
    """Apply curated labels to the catalog file.

    ``labels`` maps an arXiv id or ``lineNNN`` (line number in the upstream list) to
    fields among :data:`LABEL_FIELDS`. Ids of papers in ``pinned_ids`` (arXiv -> id) are
    forced to the pinned id whatever the labels say. ``zoo_status`` maps a (final) paper id
    to its ``zoo`` mapping (e.g. ``{"status": "implemented", "method": "fastv"}``).
    With ``require_complete`` every catalog paper needs labels with every field. With
    ``resolve_clashes``, papers that would share an id (a conference paper and its journal
    version, say) are told apart by :func:`_resolve_clashes`; otherwise a clash is an error.
    Nothing is written when there are errors or with ``dry_run``.
    """
    report = LabelMergeReport()
    data = load_roundtrip(catalog_path)
    try:
        require_current(data, catalog_path)
    except CatalogVersionError as exc:
        report.errors.append(str(exc))
        return report
    papers = _papers_seq(data)
    by_arxiv = {str(p.get("arxiv")): p for p in papers if p.get("arxiv")}
    by_title = {normalized_title(str(p.get("title", ""))): p for p in papers}
    upstream_lines = parse_upstream(upstream_text).by_line()

    resolved: dict[int, tuple[str, Mapping[str, Any]]] = {}
    for key, fields in labels.items():
        entry = None
        line_key = re.fullmatch(r"line(\d+)", key)
        if line_key:
            up = upstream_lines.get(int(line_key.group(1)))
            if up is None:
                report.errors.append(f"{key}: line {line_key.group(1)} of the upstream list is not a paper")
                continue
            entry = by_arxiv.get(up.arxiv or "") or by_title.get(normalized_title(up.title))
        else:
            entry = by_arxiv.get(key)
        if entry is None:
            report.errors.append(f"{key}: no catalog paper with this {'line' if line_key else 'arXiv id'}")
            continue
        if id(entry) in resolved:
            report.errors.append(f"{key}: same paper as {resolved[id(entry)][0]}")
            continue
        if _check_labels(key, fields, report, require_complete):
            resolved[id(entry)] = (key, fields)

    final_ids: dict[int, str] = {}
    for paper in papers:
        pid = str(paper.get("id"))
        pinned = pinned_ids.get(str(paper.get("arxiv") or ""))
        if pinned:
            final_ids[id(paper)] = pinned
        elif id(paper) in resolved and "id" in resolved[id(paper)][1]:
            final_ids[id(paper)] = str(resolved[id(paper)][1]["id"])
        else:
            final_ids[id(paper)] = pid
        if id(paper) not in resolved:
            report.unlabelled.append(pid)
    if resolve_clashes:
        _resolve_clashes(papers, final_ids, set(pinned_ids.values()), report)
    owners: dict[str, str] = {}
    retired = {str(r) for r in (data.get("retired_ids") or [])}
    for paper in papers:
        new = final_ids[id(paper)]
        if new in owners:
            report.errors.append(f"id {new!r} would be used twice (papers {owners[new]!r} and {paper.get('id')!r})")
        owners[new] = str(paper.get("id"))
        if new in retired:
            report.errors.append(f"id {new!r} is retired and cannot be reused")
    if require_complete and report.unlabelled:
        report.errors.append(f"{len(report.unlabelled)} catalog papers have no labels: {', '.join(report.unlabelled[:20])}")

    if report.errors:
        return report

    for paper in papers:
        old = str(paper.get("id"))
        new = final_ids[id(paper)]
        if new != old:
            paper["id"] = new
            report.renamed.append((old, new))
        if id(paper) in resolved:
            fields = resolved[id(paper)][1]
            if "short_name" in fields:
                paper["short_name"] = fields["short_name"]
            for name in _LABEL_VOCAB:
                if name in fields:
                    value = fields[name]
                    paper[name] = _flow_seq([value] if isinstance(value, str) else value)
            if "training_free" in fields:
                paper["training_free"] = fields["training_free"]
            report.updated.append(new)
    for pid, zoo in (zoo_status or {}).items():
        target = next((p for p in papers if p.get("id") == pid), None)
        if target is None:
            report.errors.append(f"zoo status for {pid!r}: no such paper id")
            continue
        target["zoo"] = _flow_map({k: v for k, v in zoo.items() if v is not None})
        report.zoo.append((pid, str(zoo.get("status"))))
    if report.errors or dry_run:
        return report
    atomic_write_text(catalog_path, dump_roundtrip(data))
    report.written = True
    return report


__all__ = [
    "CatalogVersionError",
    "Change",
    "HEADER",
    "LabelMergeReport",
    "apply_import",
    "dump_roundtrip",
    "load_roundtrip",
    "merge_labels",
    "migrate_v1_text",
    "paper_node",
    "read_label_files",
    "require_current",
    "roundtrip_yaml",
]
