"""Reference pages generated from the code: the CLI (walking the typer app), the Python API
(public docstrings of ``zoo.interface`` and ``zoo.catalog``) and the closed vocabularies.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from zoo import vocab
from zoo.site.escape import md_text
from zoo.site.markdown import code_span, table
from zoo.site.pages_method import docstring_md, fence, inline_md

API_MODULES = ("zoo.interface", "zoo.catalog", "zoo.repro")


def _subcommands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    """Depth-first list of ``(full name, command)`` under a (typer) click group."""
    out = []
    for name in sorted(getattr(group, "commands", {}) or {}):
        cmd = group.commands[name]
        if getattr(cmd, "hidden", False):
            continue
        full = f"{prefix} {name}"
        out.append((full, cmd))
        out += _subcommands(cmd, full)
    return out


def _param_row(param: Any, ctx: Any) -> list[str]:
    """Name, kind, type, default and help of one parameter, as ``--help`` shows them."""
    kind = getattr(param, "param_type_name", "option")
    try:
        type_name = param.display_type(ctx).strip("<>")
    except Exception:  # an unusual parameter type: show the annotation instead
        type_name = str(getattr(getattr(param, "type_descriptor", None), "annotation", ""))
    if kind == "argument":
        names = code_span((param.name or "").upper())
        default_cell = "required" if param.required else ("–" if param.default is None else code_span(repr(param.default)))
        help_text = getattr(param, "help", None) or ""
    else:
        names = ", ".join(code_span(o) for o in [*param.opts, *param.secondary_opts])
        if getattr(param, "is_flag", False):
            kind = "flag"
        default = param.default
        if param.required:
            default_cell = "required"
        elif default is None or callable(default) or default == [] or default == ():
            default_cell = "–"
        else:
            default_cell = code_span(getattr(default, "value", default))
        help_text = getattr(param, "help", None) or ""
    return [names, md_text(kind), md_text(type_name), default_cell, md_text(help_text)]


def cli_page() -> str:
    """Every ``tokzoo`` command with its help and parameters, read from the typer app."""
    import typer.main

    from zoo.cli import app

    root = typer.main.get_command(app)
    out = [
        "# Command line reference\n",
        "Generated from the `tokzoo` typer application; `tokzoo COMMAND --help` prints the same.\n",
    ]
    commands = _subcommands(root, "tokzoo")
    if not commands:
        out.append("No command is registered yet.\n")
    for full, cmd in commands:
        out.append(f"## {code_span(full)}\n")
        help_text = inspect.cleandoc(getattr(cmd, "help", None) or "")
        if help_text:
            out.append(docstring_md(help_text))
        params = [p for p in getattr(cmd, "params", []) if p.name not in {"help", "install_completion", "show_completion"}]
        if params:
            ctx = cmd.make_context(full.split()[-1], [], resilient_parsing=True)
            out.append(table(["Parameter", "Kind", "Type", "Default", "Help"], [_param_row(p, ctx) for p in params]))
    return "\n".join(out)


def _public_members(module: Any) -> list[tuple[str, Any]]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    members = []
    for name in names:
        obj = getattr(module, name, None)
        if obj is None or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        home = getattr(obj, "__module__", "") or ""
        if not home.startswith(module.__name__):
            continue  # re-exported helpers from elsewhere (dataclass, Path, ...)
        members.append((name, obj))
    return members


def _annotation(ann: Any) -> str:
    # postponed annotations (``from __future__ import annotations``) are already strings
    return ann if isinstance(ann, str) else inspect.formatannotation(ann)


def _signature(obj: Any) -> str:
    """``(a: int, b: str = 'x') -> bool`` without the quotes of postponed annotations;
    classes show their constructor without a return annotation."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = []
    for p in sig.parameters.values():
        text = p.name
        if p.kind is p.VAR_POSITIONAL:
            text = "*" + text
        elif p.kind is p.VAR_KEYWORD:
            text = "**" + text
        if p.annotation is not p.empty:
            text += f": {_annotation(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {p.default!r}" if p.annotation is not p.empty else f"={p.default!r}"
        params.append(text)
    kinds = [p.kind for p in sig.parameters.values()]
    if inspect.Parameter.KEYWORD_ONLY in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds:
        params.insert(kinds.index(inspect.Parameter.KEYWORD_ONLY), "*")
    out = f"({', '.join(params)})"
    if not inspect.isclass(obj) and sig.return_annotation is not sig.empty:
        out += f" -> {_annotation(sig.return_annotation)}"
    return out


def api_page() -> str:
    """Public classes and functions of the API modules with their docstrings."""
    out = ["# Python API reference\n", "Generated from the docstrings of the public modules.\n"]
    for mod_name in API_MODULES:
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            out.append(f"## {code_span(mod_name)}\n\nNot available in this build ({md_text(exc)}).\n")
            continue
        out.append(f"## {code_span(mod_name)}\n")
        out.append(docstring_md(inspect.cleandoc(module.__doc__ or "")))
        for name, obj in _public_members(module):
            kind = "class" if inspect.isclass(obj) else "def"
            out.append(f"### {code_span(f'{mod_name}.{name}')}\n")
            out.append(fence(f"{kind} {name}{_signature(obj)}", "python"))
            out.append(docstring_md(inspect.cleandoc(obj.__doc__ or "")) or "(no docstring)\n")
            if inspect.isclass(obj):
                for attr, member in sorted(vars(obj).items()):
                    if attr.startswith("_") or not inspect.isfunction(member) or not member.__doc__:
                        continue
                    first = inspect.cleandoc(member.__doc__).split("\n\n")[0].replace("\n", " ")
                    out.append(f"- {code_span(f'{name}.{attr}{_signature(member)}')}: {inline_md(first)}")
                out.append("")
    return "\n".join(out)


def vocab_page() -> str:
    out = [
        "# Vocabularies\n",
        "The catalog and the zoo use closed vocabularies (`zoo.vocab`); the validator rejects any other label.\n",
    ]
    for name, terms in vocab.VOCABULARIES.items():
        out.append(f"## {code_span(name)}\n")
        out.append(table(["Term", "Meaning"], [[code_span(k), md_text(v)] for k, v in terms.items()]))
    return "\n".join(out)
