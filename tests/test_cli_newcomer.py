"""The CLI as a newcomer meets it (issue 17): --version and -h, one meaning for -n, tables that
read at 80 columns without broken words, `methods --family` with catalog terms, typed
`methods --json`, empty filter values refused, `sync` saying what it reads, documented commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from catalog_fixtures import FIXTURE_YAML, private_cache, write_catalog  # noqa: F401
from zoo import __version__
from zoo.cli import app
from zoo.cli.methods_cmds import render_methods_table

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def flat(text: str) -> str:
    """Help/error text without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _commands() -> dict[str, click.Command]:
    group = typer.main.get_command(app)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_version_and_short_help():
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"tokzoo {__version__}"
    assert run("-V").output.strip() == f"tokzoo {__version__}"
    top = run("-h")
    assert top.exit_code == 0 and "Usage:" in top.output and "list" in top.output
    for name in _commands():
        result = run(name, "-h")
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_dash_n_means_dry_run_in_every_command():
    meanings = {}
    for name, command in _commands().items():
        for param in command.params:
            if "-n" in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
                meanings[name] = [o for o in param.opts if o.startswith("--")]
    assert meanings and set(map(tuple, meanings.values())) == {("--dry-run",)}, meanings
    assert "list" not in meanings  # `list --limit N` has no -n any more


def test_each_short_option_means_one_thing_in_the_catalog_commands():
    seen: dict[str, set[str]] = {}
    for name in ("list", "show", "stats", "validate", "cite", "add", "sync", "new-method", "pr-check"):
        for param in _commands()[name].params:
            longs = [o for o in getattr(param, "opts", []) if o.startswith("--")]
            for short in [o for o in getattr(param, "opts", []) if re.fullmatch(r"-[A-Za-z]", o)]:
                seen.setdefault(short, set()).update(longs)
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


@pytest.mark.parametrize("option", ["--modality", "--technique", "--family", "--status", "--year", "--venue",
                                    "--venue-year", "--arxiv-year", "--author"])
def test_filters_given_an_empty_value_are_errors(tmp_path, option):
    catalog = write_catalog(tmp_path)
    result = run("list", option, "", "--catalog", str(catalog))
    assert result.exit_code == 2 and "empty value" in result.output, result.output
    assert run("list", option, " , ", "--catalog", str(catalog)).exit_code == 2


def test_empty_search_text_is_an_error(tmp_path):
    catalog = write_catalog(tmp_path)
    result = run("list", "", "--catalog", str(catalog))
    assert result.exit_code == 2 and "empty value" in result.output


def test_list_table_fits_80_columns_without_broken_words(tmp_path):
    from zoo.catalog import load_catalog

    cat = load_catalog()
    result = run("list", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = lines[0].split()
    assert header[:2] == ["ID", "Year"] and "Title" in header and "Zoo" in header
    ids = {p.id for p in cat}
    for line in lines[2:-1]:
        assert line.split()[0] in ids  # ids are never shortened
    titles = {p.id: p.title for p in cat}
    start = lines[0].index("Title")
    for line in lines[2:-1]:
        pid = line.split()[0]
        cell = line[start:].split("  ")[0].strip()
        shown = cell.rstrip("…")
        assert titles[pid].startswith(shown), (pid, cell)
        if cell.endswith("…"):  # cut between words, never inside one
            rest = titles[pid][len(shown):]
            assert rest.startswith(" ") or shown.endswith((":", ",", "-", " ")) or rest[:1] in ":,;-", (pid, cell)


def test_methods_table_at_80_columns_breaks_no_word():
    rows = [{"id": "llava-prumerge", "arxiv": "2403.15388", "families": ["llava", "llava-next"],
             "catalog_families": ["vlm"], "placement": "projector",
             "params": {"keep_ratio": None, "layers": [3, 6, 9], "threshold": 7e-05, "graph": "spatial"},
             "required_params": [], "paper_notation": {},
             "summary": "LLaVA-PruMerge: adaptive selection of the visual tokens with interquartile outliers "
                        "of the CLS attention, then merges the rest into them (training-free)."}] * 3
    text = render_methods_table(rows, 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    flat = " ".join(lines)
    for word in rows[0]["summary"].split():
        assert re.search(rf"(?<!\S){re.escape(word)}(?!\S)", flat), word  # every word shown whole
    assert "layers=(3,6,9)" in text and "threshold=7e-05" in text and "graph='spatial'" in text
    assert "arXiv" not in lines[2] and "2403.15388" not in text  # the paper column needs 100 columns
    assert "2403.15388" in render_methods_table(rows, 120)


def test_methods_family_takes_catalog_terms_and_json_is_typed():
    pytest.importorskip("torch")
    vit = run("methods", "--family", "vit", "--json")
    assert vit.exit_code == 0, vit.output
    rows = json.loads(vit.output)
    ids = [r["id"] for r in rows]
    assert "tome" in ids and "fastv" not in ids and all("vit" in r["catalog_families"] for r in rows)
    tome = next(r for r in rows if r["id"] == "tome")
    assert tome["params"]["r"] == 16 and tome["params"]["keep_ratio"] is None and tome["params"]["prop_attn"] is True
    assert isinstance(tome["params"]["inflect"], float) and tome["catalog_id"] == "tome"
    # an adapter name selects what runs there: every encoder method runs on timm ViTs, also those of
    # text/speech papers (catalog family encoder-lm/speech), which the catalog term 'vit' leaves out
    on_timm = [r["id"] for r in json.loads(run("methods", "--family", "timm-vit", "--json").output)]
    assert set(ids) <= set(on_timm) and "power-bert" in on_timm and "power-bert" not in ids
    vlm = json.loads(run("methods", "--family", "vlm", "--json").output)
    assert "fastv" in [r["id"] for r in vlm] and "tome" not in [r["id"] for r in vlm]
    assert "layers" in next(r for r in vlm if r["id"] == "pyramiddrop")["params"]
    assert isinstance(next(r for r in vlm if r["id"] == "pyramiddrop")["params"]["layers"], list)
    bad = run("methods", "--family", "nope")
    assert bad.exit_code == 2 and "neither an adapter nor a catalog family" in flat(bad.output)
    assert run("methods", "--family", "").exit_code == 2
    table = run("methods", env={"COLUMNS": "80"})
    assert table.exit_code == 0 and max(len(line) for line in table.output.splitlines()) <= 80


def test_sync_says_what_it_reads(tmp_path):
    from contrib_fakes import write_small_catalog

    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    result = run("sync", "--catalog", str(catalog))
    assert result.exit_code == 1 and "tools/upstream/awesome-token-reduction.md" in result.output  # no copy next to it
    source = ROOT / "tools" / "upstream" / "awesome-token-reduction.md"
    result = run("sync", str(source), "--catalog", str(catalog))
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[:3]
    assert first[0].startswith(f"Upstream list: {source} (a file; 399 papers; titled 'Awesome Token Redundancy Reduction')")
    assert first[1].startswith("Curated labels: none") and first[2] == f"Catalog: {catalog}"
    help_text = run("sync", "-h").output
    assert "shipped copy" in help_text and "raw.githubusercontent.com" in help_text


def test_year_help_says_which_year_it_filters():
    text = flat(run("list", "-h", env={"COLUMNS": "200"}).output)
    assert "Section year of the upstream list" in text and "--venue-year" in text and "--arxiv-year" in text


def test_readme_documents_pr_check_and_repro_list_and_the_three_years():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "tokzoo pr-check" in readme and "tokzoo repro --list" in readme
    assert "section_year" in readme and "arxiv_published" in readme and "--venue-year" in readme
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "tokzoo pr-check" in contributing and "tools/merge_metadata.py" in contributing
