"""The support matrix on the site: the ``support/`` page (every method x adapter, grouped by runtime)
and each method page's "Runs on" section.

The matrix comes from ``site/data/methods.json`` (``support_matrix``: the cells of
:func:`zoo.support.support_records`: method, adapter, runtime, model_classes, serves, status,
reason). Every string is data: ids and class names go through this module's :func:`code_span`, prose
through :func:`md_text`, so nothing in the file can become markup.
"""

from __future__ import annotations

from typing import Any

from zoo.site.data import SiteData
from zoo.site.escape import md_text
from zoo.site.markdown import rel, table, wide

PAGE = "support/index.md"
STATUS_WORDS = {"yes": "yes", "depends": "depends", "no": "no"}
RUNTIME_TITLES = {"encoder": "Encoders", "decoder": "Decoder LMs", "diffusion": "Diffusion"}
LEGEND = ("**yes**: runs on every model the adapter serves; **depends**: runs on the models that offer "
          "what the reason names; **no**: does not run (the reason says why).")


def code_span(text: Any) -> str:
    """Inline code showing ``text`` literally: Python-Markdown still parses links and emphasis inside
    an inline ``<code>`` element, so the text is escaped as Markdown (entities and backslashes)."""
    return f"<code>{md_text(text)}</code>"


def cells(data: SiteData) -> list[dict[str, Any]]:
    """The well-formed cells of the stored matrix (a missing or old-format matrix gives none)."""
    matrix = data.support_matrix
    if not isinstance(matrix, list):
        return []
    keys = ("method", "adapter", "runtime", "status")
    return [c for c in matrix if isinstance(c, dict) and all(isinstance(c.get(k), str) for k in keys)
            and c["status"] in STATUS_WORDS]


def _by(items: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in items:
        out.setdefault(c[key], []).append(c)
    return out


def _models(cell: dict[str, Any]) -> str:
    classes = [str(m) for m in (cell.get("model_classes") or []) if m]
    if classes:
        return ", ".join(code_span(m) for m in classes)
    return md_text(cell.get("serves") or "")


def _status(cell: dict[str, Any]) -> str:
    return f"**{STATUS_WORDS[cell['status']]}**"


def runs_on_section(method_id: str, data: SiteData, page: str) -> str:
    """The "Runs on" section of a method page: every adapter, its models where the method runs,
    the reason where it does not (adapters that share one reason share one row)."""
    mine = [c for c in cells(data) if c["method"] == method_id]
    if not mine:
        return ""
    rows: list[list[str]] = []
    for runtime, group in _by(mine, "runtime").items():
        shared = _by([c for c in group if c["status"] == "no"], "reason")
        done: set[str] = set()
        for c in group:
            title = md_text(RUNTIME_TITLES.get(runtime, runtime))
            if c["status"] == "no" and len(shared.get(c["reason"], [])) > 1:
                if c["reason"] in done:
                    continue
                done.add(c["reason"])
                names = ", ".join(code_span(g["adapter"]) for g in shared[c["reason"]])
                rows.append([title, names, _status(c), md_text(c.get("reason"))])
                continue
            text = _models(c) if c["status"] != "no" else md_text(c.get("reason"))
            if c["status"] == "depends":
                text += "; " + md_text(c.get("reason"))
            rows.append([title, code_span(c["adapter"]), _status(c), text])
    n_ok = sum(c["status"] != "no" for c in mine)
    return (f"## Runs on\n\n{n_ok} of {len(mine)} adapters "
            f"([whole matrix]({rel(page, PAGE)})). {LEGEND}\n\n"
            + wide(table(["Runtime", "Adapter", "Runs", "Models, or why not"], rows)) + "\n")


def support_page(data: SiteData) -> str:
    """``support/index.md``: one table per runtime (methods running on one of its adapters x its
    adapters), the reasons under it, and what every adapter serves."""
    all_cells = cells(data)
    parts = ["# Support matrix\n",
             "Which method runs on which model family (adapter), from the declarations of the methods and the "
             "adapters (`tokzoo methods --support`; `tokzoo methods ID` for one method). " + LEGEND + "\n"]
    if not all_cells:
        parts.append("This build has no support matrix (regenerate `site/data/methods.json` with "
                     "`tokzoo site metadata`).\n")
        return "\n".join(parts)
    method_ids = list(dict.fromkeys(c["method"] for c in all_cells))
    documented = set(data.methods)
    for runtime, group in _by(all_cells, "runtime").items():
        adapters = list(dict.fromkeys(c["adapter"] for c in group))
        grid = {(c["method"], c["adapter"]): c for c in group}
        rows_ids = [m for m in method_ids if any(grid.get((m, a), {}).get("status", "no") != "no" for a in adapters)]
        parts.append(f"## {md_text(RUNTIME_TITLES.get(runtime, runtime))}\n")
        parts.append(f"{len(rows_ids)} of {len(method_ids)} methods run on at least one of these adapters; the "
                     "others run on none of them.\n")
        rows = []
        for m in rows_ids:
            name = code_span(m)
            label = f"[{name}]({rel(PAGE, f'methods/{m}.md')})" if m in documented else name
            rows.append([label] + [STATUS_WORDS[grid[(m, a)]["status"]] if (m, a) in grid else "" for a in adapters])
        parts.append(wide(table(["Method"] + [code_span(a) for a in adapters], rows, ["l"] + ["c"] * len(adapters))))
        notes = [f"- {code_span(c['method'])} on {code_span(c['adapter'])}: {_status(c)}, {md_text(c.get('reason'))}"
                 for m in rows_ids for a in adapters for c in [grid.get((m, a))]
                 if c is not None and c["status"] != "yes" and c.get("reason")]
        if notes:
            parts.append("Where these methods do not run, or it depends:\n\n" + "\n".join(notes) + "\n")
    served = {c["adapter"]: c for c in all_cells}
    parts.append("## What each adapter serves\n")
    parts.append(wide(table(["Adapter", "Runtime", "Models"],
                            [[code_span(a), md_text(c["runtime"]), md_text(c.get("serves") or "")]
                             for a, c in served.items()])))
    return "\n".join(parts)
