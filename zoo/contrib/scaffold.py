"""``tokzoo new-method <paper>``: scaffold a method wired to its catalog entry.

Writes, for catalog paper ``<id>`` (the method id is the catalog id):

- ``zoo/papers/<module>.py``: a :class:`zoo.interface.Method` dataclass skeleton with the
  zoo's budget fields; its ``install`` raises ``NotImplementedError`` with what to do;
- ``repro/<id>.py``: the repro script in the :mod:`zoo.repro` format, with no claim and an
  explicitly unsourced placeholder, so it refuses to run rather than show a made-up number;
- ``tests/test_method_<module>.py``: real checks (tokens reduced, model restored, docs
  written) on the family's tiny test model, failing until the method works;
- the docs entry: the module and class docstrings the site renders on the method page;

and edits (validated, atomic): ``zoo/papers/__init__.py`` (REGISTRY entry) and the catalog
entry (``zoo: {status: planned, method: <id>}``). Nothing is written if any target file
exists or the method is already registered.

Catalog strings are data, never code: they enter the generated files as ``repr`` literals or
as escaped docstring text (:func:`docstring_text`), and every generated file must parse to
the same structure as the template filled with harmless text (:func:`check_structure`), so
a title or short name holding quotes, triple quotes or code cannot add a statement.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, Optional

from zoo.contrib import scaffold_templates as templates
from zoo.contrib.catalog_edit import CatalogEditError, checked_text, unified_diff

#: adapter name -> (default placement, stage of its reducible tokens, where its shared case list lives)
FAMILY_DEFAULTS: dict[str, tuple[str, str, str]] = {
    "timm-vit": ("backbone", "vit", "CASES and NOOP in tests/test_vit_methods.py"),
    "llava": ("llm-prefill", "llm", "the VLM case list in tests/test_vlm*.py"),
}
#: catalog family -> adapter proposed by default
CATALOG_FAMILY_TO_ADAPTER = {"vit": "timm-vit", "vlm": "llava"}


class ScaffoldError(Exception):
    """The scaffold cannot be made; nothing was written."""


@dataclass
class ScaffoldPlan:
    root: Path
    method_id: str
    class_name: str
    module: str
    new_files: dict[Path, str] = field(default_factory=dict)
    edits: dict[Path, tuple[str, str]] = field(default_factory=dict)  # path -> (old text, new text)

    def summary(self) -> str:
        lines = [f"new  {p.relative_to(self.root)}" for p in self.new_files]
        lines += [f"edit {p.relative_to(self.root)}" for p in self.edits]
        return "\n".join(lines)

    def diff(self) -> str:
        return "".join(unified_diff(old, new, str(p.relative_to(self.root))) for p, (old, new) in self.edits.items())

    def write(self) -> None:
        """Create the new files and apply the edits, all or nothing (each file atomically)."""
        from zoo.catalog import atomic_write_text

        for path in self.new_files:
            if path.exists():
                raise ScaffoldError(f"{path} exists already; nothing was written")
        for path, (old, _) in self.edits.items():
            if path.read_text(encoding="utf-8") != old:
                raise ScaffoldError(f"{path} changed on disk meanwhile; nothing was written, run the command again")
        written: list[Path] = []
        try:
            for path, text in self.new_files.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, text)
                written.append(path)
            for path, (_, new) in self.edits.items():
                atomic_write_text(path, new)
        except BaseException:
            for path in written:  # leave no half scaffold behind
                path.unlink(missing_ok=True)
            raise


def docstring_text(text: str) -> str:
    """``text`` made safe inside a ``\"\"\"`` docstring or a comment of generated code: control
    characters and line breaks dropped, backslashes and quotes escaped."""
    from zoo.catalog.schema import CONTROL_RE

    flat = " ".join(CONTROL_RE.sub(" ", text).split())
    return flat.replace("\\", "\\\\").replace('"', '\\"')


def _shape(code: str) -> str:
    """The code's syntax tree with every string constant blanked: equal for two fillings of a
    template exactly when the filled-in text changed no code."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree, include_attributes=False)


def check_structure(relative: str, generated: str, reference: str) -> None:
    """Refuse a generated file whose structure differs from the template's (catalog text turned into code)."""
    try:
        same = _shape(generated) == _shape(reference)
    except SyntaxError as exc:
        raise ScaffoldError(f"{relative}: the catalog entry's text breaks the generated code ({exc.msg}); "
                            "nothing was written") from None
    if not same:
        raise ScaffoldError(f"{relative}: the catalog entry's text would change the generated code's structure; "
                            "nothing was written")


def class_name_for(name: str) -> str:
    """``'LLaVA-PruMerge'`` -> ``'LLaVAPruMerge'``; a valid, non-keyword identifier."""
    parts = re.findall(r"[A-Za-z0-9]+", name)
    candidate = "".join(p[:1].upper() + p[1:] for p in parts) or "Method"
    if candidate[0].isdigit():
        candidate = "M" + candidate
    if keyword.iskeyword(candidate):
        candidate += "Method"
    return candidate


def add_registry_entry(text: str, method_id: str, target: str) -> str:
    """Insert ``"<id>": "<module:Class>",`` before the closing brace of the REGISTRY literal."""
    match = re.search(r"^REGISTRY: dict\[str, str\] = \{\n(?P<body>.*?)^\}", text, re.MULTILINE | re.DOTALL)
    if not match:
        raise ScaffoldError("cannot find the `REGISTRY: dict[str, str] = {...}` literal in zoo/papers/__init__.py")
    line = f"    {json.dumps(method_id)}: {json.dumps(target)},\n"
    new = text[:match.end("body")] + line + text[match.end("body"):]
    tree = ast.parse(new)
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "REGISTRY":
            registry = ast.literal_eval(node.value)
            if registry.get(method_id) != target:
                raise ScaffoldError("editing REGISTRY failed (unexpected layout); add the entry by hand")
            return new
    raise ScaffoldError("REGISTRY literal not found after the edit")


def set_planned(catalog_text: str, path: Path, paper_id: str) -> str:
    """The catalog text with ``zoo: {status: planned, method: <id>}`` on entry ``paper_id``."""
    from ruamel.yaml.comments import CommentedMap

    from zoo.contrib.catalog_edit import CatalogDocument

    doc = CatalogDocument.load(path)
    entry = doc.round_trip_entry(paper_id)
    zoo = CommentedMap([("status", "planned"), ("method", paper_id)])
    zoo.fa.set_flow_style()
    entry["zoo"] = zoo
    new = doc.render()
    old_lines, new_lines = catalog_text.splitlines(), new.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    if len(old_lines) != len(new_lines) or len(changed) > 1:
        raise ScaffoldError("setting the zoo status would reformat the catalog; edit the entry by hand: "
                            f"zoo: {{status: planned, method: {paper_id}}}")
    return checked_text(path, catalog_text, new, allow_changes=True)


def plan_new_method(root: Path | str, paper_key: str, *, family: Optional[str] = None,
                    placement: Optional[str] = None, class_name: Optional[str] = None,
                    catalog: Optional[Path] = None) -> ScaffoldPlan:
    """Plan the scaffold for catalog paper ``paper_key`` (id, arXiv id or name) in checkout ``root``."""
    from zoo import vocab
    from zoo.catalog import AmbiguousPaper, CatalogError, PaperNotFound, load_catalog

    root = Path(root).resolve()
    catalog_path = Path(catalog) if catalog else root / "catalog.yaml"
    registry_path = root / "zoo" / "papers" / "__init__.py"
    for needed in (catalog_path, registry_path, root / "repro", root / "tests"):
        if not needed.exists():
            raise ScaffoldError(f"{needed} not found: run new-method from a tokzoo source checkout (or pass --root)")
    try:
        paper = load_catalog(catalog_path).get(paper_key)
    except (PaperNotFound, AmbiguousPaper) as exc:
        raise ScaffoldError(f"{exc}. A method needs its paper in the catalog first: tokzoo add <arXiv id>") from None
    except CatalogError as exc:
        raise ScaffoldError(f"the catalog is invalid; fix it first (`tokzoo validate`):\n{exc}") from None

    method_id = paper.id
    registry_text = registry_path.read_text(encoding="utf-8")
    if re.search(rf'^\s*"{re.escape(method_id)}"\s*:', registry_text, re.MULTILINE):
        raise ScaffoldError(f"method {method_id!r} is already in REGISTRY (zoo/papers/__init__.py)")
    if paper.zoo.status == "implemented":
        raise ScaffoldError(f"catalog entry {method_id!r} is already implemented (method {paper.zoo.method!r})")

    if family is None:
        adapters = [CATALOG_FAMILY_TO_ADAPTER[f] for f in paper.family if f in CATALOG_FAMILY_TO_ADAPTER]
        if not adapters:
            raise ScaffoldError(f"cannot tell the model family adapter of {method_id!r} (catalog family: "
                                f"{', '.join(paper.family)}); pass --family, one of: {', '.join(FAMILY_DEFAULTS)}")
        family = adapters[0]
    from zoo.families import ADAPTERS

    if family not in ADAPTERS:
        raise ScaffoldError(f"--family {family!r} is not a family adapter; known: {', '.join(ADAPTERS)}")
    default_placement, stage, case_list = FAMILY_DEFAULTS.get(family, ("", "", "the shared case list of its family"))
    placement = placement or default_placement
    if placement not in vocab.PLACEMENT:
        raise ScaffoldError(f"--placement {placement!r}; allowed: {', '.join(vocab.PLACEMENT)}")

    module = method_id.replace("-", "_")
    if not module.isidentifier() or keyword.iskeyword(module):
        module = f"m_{module}"
    class_name = class_name or class_name_for(paper.short_name or paper.id)
    if not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ScaffoldError(f"--class-name {class_name!r} is not a Python identifier")

    short = paper.short_name or paper.id
    arxiv_text = paper.arxiv or "none"
    heading = (f"{paper.short_name} (arXiv {arxiv_text}): {paper.title}" if paper.short_name
               else f"{paper.title} (arXiv {arxiv_text})")

    def fill(short: str, heading: str, title: str, paper_url: str, code: Optional[str], arxiv: str) -> dict[str, Any]:
        """Template fields: ``*_lit`` are Python literals (repr), the rest escaped docstring text."""
        return {
            "heading": docstring_text(heading),
            "short": docstring_text(short),
            "arxiv_text": docstring_text(arxiv or "none"),
            "paper_url": docstring_text(paper_url),
            "code_line": f"\nOfficial code: {docstring_text(code)}" if code else "",
            "method_id": method_id,
            "module": module,
            "class_name": class_name,
            "family": family,
            "placement": placement,
            "stage": stage or "TODO",
            "case_list": case_list,
            "method_id_lit": repr(method_id),
            "arxiv_lit": repr(arxiv),
            "family_lit": repr(family),
            "placement_lit": repr(placement),
            "title_lit": repr(title),
            "todo_lit": repr(f"copy a reported number of {short} with its table/figure into CLAIMS as a Claim"),
        }

    fields = fill(short, heading, paper.title, paper.links.paper, paper.links.code, paper.arxiv or "")
    harmless = fill("x", "x", "x", "https://x", "https://x" if paper.links.code else None, "x")
    setup = templates.MODEL_SETUP.get(family) or Template(templates.MISSING_SETUP).substitute(fields)
    fields["model_setup"] = harmless["model_setup"] = setup.rstrip("\n")

    plan = ScaffoldPlan(root=root, method_id=method_id, class_name=class_name, module=module)
    for relative, template in ((f"zoo/papers/{module}.py", templates.METHOD),
                               (f"repro/{method_id}.py", templates.REPRO),
                               (f"tests/test_method_{module}.py", templates.TEST)):
        path = root / relative
        if path.exists():
            raise ScaffoldError(f"{relative} exists already; nothing was written")
        generated = Template(template).substitute(fields)
        check_structure(relative, generated, Template(template).substitute(harmless))
        plan.new_files[path] = generated
    plan.edits[registry_path] = (registry_text, add_registry_entry(registry_text, method_id,
                                                                   f"zoo.papers.{module}:{class_name}"))
    catalog_text = catalog_path.read_text(encoding="utf-8")
    try:
        plan.edits[catalog_path] = (catalog_text, set_planned(catalog_text, catalog_path, method_id))
    except CatalogEditError as exc:
        raise ScaffoldError(str(exc)) from None
    return plan
