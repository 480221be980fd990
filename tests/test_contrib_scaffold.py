"""`tokzoo new-method` in a temporary copy of the repository (never on the real tree).

The generated test file is run in a subprocess against the copy: it must fail while the
method is a scaffold, and pass once a real ``install`` is written, so it tests behaviour.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import write_small_catalog
from zoo.catalog import load_catalog
from zoo.cli import app

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "results", "build")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """zoo/, the test fixtures, repro/configs and a small catalog with a ViT paper to implement."""
    root = tmp_path / "tokzoo"
    shutil.copytree(REPO / "zoo", root / "zoo", ignore=IGNORE)
    (root / "tests").mkdir()
    for name in ("conftest.py", "vit_fixtures.py", "vlm_fixtures.py"):
        if (REPO / "tests" / name).exists():
            shutil.copy(REPO / "tests" / name, root / "tests" / name)
    shutil.copytree(REPO / "repro" / "configs", root / "repro" / "configs")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    catalog = write_small_catalog(root / "catalog.yaml")
    added = CliRunner().invoke(app, ["add", "--catalog", str(catalog), "--title", "Token Cropr: Faster ViTs for Quite a Few Tasks",
                                     "--url", "https://arxiv.org/abs/2412.00965", "--venue", "arXiv", "--year", "2024",
                                     "--technique", "pruning", "--short-name", "Cropr"])
    assert added.exit_code == 0, added.output
    return root


def _new_method(root: Path, *args: str):
    return CliRunner().invoke(app, ["new-method", *args, "--root", str(root)])


# Runs the generated tests twice in one interpreter (torch and timm are imported once):
# as scaffolded, then after IMPLEMENTED replaces the method module.
_TWICE = """
import sys, pytest
from pathlib import Path
test_file, module_path, implemented = sys.argv[1:4]
first = pytest.main(["-q", "-p", "no:cacheprovider", test_file])
Path(module_path).write_text(Path(implemented).read_text())
for name in [m for m in sys.modules if m.startswith("zoo.papers.")]:
    del sys.modules[name]
second = pytest.main(["-q", "-p", "no:cacheprovider", test_file])
print(f"RESULTS {int(first)} {int(second)}")
"""


def _pytest_twice(root: Path, test_file: str, module: Path, implemented: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "TOKZOO_CACHE_DIR": "off"}
    return subprocess.run([sys.executable, "-c", _TWICE, test_file, str(module), str(implemented)],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_scaffold_writes_wired_files_that_fail_until_implemented(repo_copy):
    result = _new_method(repo_copy, "2412.00965")
    assert result.exit_code == 0, result.output
    for relative in ("zoo/papers/cropr.py", "repro/cropr.py", "tests/test_method_cropr.py"):
        assert (repo_copy / relative).is_file(), relative
    assert '"cropr": "zoo.papers.cropr:Cropr",' in (repo_copy / "zoo/papers/__init__.py").read_text()
    paper = load_catalog(repo_copy / "catalog.yaml").get("cropr")
    assert paper.zoo.status == "planned" and paper.zoo.method == "cropr"
    assert "+    zoo: {status: planned, method: cropr}" in result.output

    # the repro script refuses to load: no claim, and no made-up number
    from zoo.repro.loader import load_spec

    with pytest.raises(NotImplementedError, match="repro/cropr.py has no claims yet"):
        load_spec("cropr", repo_copy / "repro")
    assert "reported=" not in (repo_copy / "repro/cropr.py").read_text().split("CLAIMS: list[Claim] = []")[1]

    # the generated tests fail while it is a scaffold, and pass once it is implemented and documented
    module = repo_copy / "zoo/papers/cropr.py"
    text = module.read_text()
    text = text.replace("TODO(contributor)", "Done:").replace(
        "    paper_notation: ClassVar[dict[str, str]] = {\n",
        '    paper_notation: ClassVar[dict[str, str]] = {\n        "k": "k: block where tokens are pruned",\n')
    start = text.index("        raise NotImplementedError(")
    text = text[:start] + (
        "        adapter.install_token_pruning(patch, run, layer=self.k, keep_ratio=self.keep_ratio,\n"
        "                                      keep_tokens=self.keep_tokens, scorer=lambda x: x.norm(dim=-1))\n")
    implemented = repo_copy.parent / "cropr_implemented.py"
    implemented.write_text(text)
    done = _pytest_twice(repo_copy, "tests/test_method_cropr.py", module, implemented)
    output = done.stdout + done.stderr
    assert "RESULTS 1 0" in output, output  # pytest exit codes: 1 = tests failed, 0 = all passed
    assert "replace the TODOs in the docstrings" in output
    assert "cropr is scaffolded but not implemented yet" in output
    assert "2 failed" in output and "2 passed" in output


def test_refusals_name_the_problem_and_write_nothing(repo_copy):
    registry = (repo_copy / "zoo/papers/__init__.py").read_text()
    catalog = (repo_copy / "catalog.yaml").read_text()
    missing = _new_method(repo_copy, "no-such-paper")
    assert missing.exit_code == 1 and "tokzoo add <arXiv id>" in missing.output
    taken = _new_method(repo_copy, "tome")
    assert taken.exit_code == 1 and "already in REGISTRY" in taken.output
    family = _new_method(repo_copy, "cropr", "--family", "nope")
    assert family.exit_code == 1 and "not a family adapter; known: timm-vit" in family.output
    (repo_copy / "repro" / "cropr.py").write_text("# someone's work\n")
    exists = _new_method(repo_copy, "cropr")
    assert exists.exit_code == 1 and "repro/cropr.py exists already" in exists.output
    dry = _new_method(repo_copy, "lvpruning", "--dry-run")
    assert dry.exit_code == 0 and "new  zoo/papers/lvpruning.py" in dry.output and "nothing written" in dry.output
    assert not (repo_copy / "zoo/papers/lvpruning.py").exists()
    assert (repo_copy / "zoo/papers/__init__.py").read_text() == registry
    assert (repo_copy / "catalog.yaml").read_text() == catalog


HOSTILE_SHORT = 'X", "pwn": __import__("os").system("touch {mark}"), "y": "'
HOSTILE_TITLE = 'Evil """ + __import__("os").system("touch {mark}2") + """ \\\\ title\\\\'


def test_hostile_catalog_text_never_becomes_code(repo_copy):
    """A short name and title written to break out of the generated string literals and
    docstrings (they pass the validator: quotes are text). Before, importing the generated repro
    script ran the payload (e.g. through `tokzoo repro --list`)."""
    import ast
    import runpy

    import yaml

    mark = repo_copy / "PWNED"
    short, title = HOSTILE_SHORT.format(mark=mark), HOSTILE_TITLE.format(mark=mark)
    catalog = repo_copy / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    text = text.replace("    short_name: LVPruning\n", f"    short_name: {yaml.safe_dump(short, width=10_000).splitlines()[0]}\n")
    text = text.replace("    title: 'LVPruning: An Effective yet Simple Language-Guided Vision Token Pruning Approach for Multi-modal Large Language Models'\n",
                        f"    title: {yaml.safe_dump(title, width=10_000).splitlines()[0]}\n")
    catalog.write_text(text, encoding="utf-8")
    assert load_catalog(catalog).get("lvpruning").short_name == short  # valid catalog text

    result = _new_method(repo_copy, "lvpruning", "--family", "timm-vit", "--class-name", "Lvp")
    assert result.exit_code == 0, result.output
    repro = repo_copy / "repro" / "lvpruning.py"
    with pytest.raises(NotImplementedError):
        runpy.run_path(str(repro))  # the scaffold refuses to run, and runs nothing else
    method = repo_copy / "zoo" / "papers" / "lvpruning.py"
    tree = ast.parse(method.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree).startswith(f"{short} (arXiv 2501.13652): {title}")  # data, verbatim
    assert not mark.exists() and not Path(f"{mark}2").exists()
    spec = ast.parse(repro.read_text(encoding="utf-8"))
    literals = [n.value for n in ast.walk(spec) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert title in literals and any(short in v for v in literals)
    calls = {getattr(n.func, "id", getattr(n.func, "attr", "")) for n in ast.walk(spec) if isinstance(n, ast.Call)}
    assert "__import__" not in calls and "system" not in calls


def test_structure_check_refuses_text_that_changes_the_code():
    from zoo.contrib.scaffold import ScaffoldError, check_structure

    check_structure("x.py", 'A = "one"\n', 'A = "other"\n')
    with pytest.raises(ScaffoldError, match="change the generated code's structure"):
        check_structure("x.py", 'A = "one", __import__("os")\n', 'A = "other"\n')
    with pytest.raises(ScaffoldError, match="breaks the generated code"):
        check_structure("x.py", 'A = "one\n', 'A = "other"\n')
