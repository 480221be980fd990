"""Conformance claims: how the authors' checkout or package is found, pinned and compared.

Uses a fake "official" repository made here (a git repo with one module), so the API is
tested without any real official code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import zoo.repro as zr
from zoo.repro.conformance import Official, Reference, conformance_claim, measurement, resolve_checkout
from zoo.repro.spec import PaperSpec, Unavailable


def _git(path, *args):
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    repo = tmp_path / "official"
    (repo / "fakepkg").mkdir(parents=True)
    (repo / "fakepkg" / "__init__.py").write_text(
        "def double(xs):\n    open('missing', 'a').write('official code writes next to itself')\n"
        "    return [2 * x for x in xs]\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "one")
    return repo, _git(repo, "rev-parse", "HEAD")


def compare_double(ctx, reference, params, dtype):
    """A toy comparison: 'ours' doubles a list, the official module too."""
    from zoo.repro.harness.official import imported

    xs = list(range(params["n"]))
    with imported(reference.path, "fakepkg") as (fake,):
        theirs = fake.double(xs)
    ours = [x * 2 + params.get("bug", 0) for x in xs]
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    return measurement(reference, dtype, differences={"out": diff}, kept_equal={"same kept tokens": ours == theirs})


def _spec(commit, **params):
    off = Official("someone/fake", commit[:7])
    return PaperSpec("toy", "Toy", "", [conformance_claim(
        "conformance-double", method="toy", params={"n": 5, **params}, official=off, path="fakepkg/__init__.py",
        where="double()", compare=compare_double)])


def test_official_need_and_source():
    off = Official.parse("official:facebookresearch/ToMe@af95e4b")
    assert off == Official("facebookresearch/ToMe", "af95e4b") and off.need == "official:facebookresearch/ToMe@af95e4b"
    assert off.env_var == "TOKZOO_OFFICIAL_FACEBOOKRESEARCH_TOME"
    src = off.source("tome/merge.py", "bipartite_soft_matching")
    assert src.ref == "github.com/facebookresearch/ToMe tome/merge.py@af95e4b"
    assert src.url.endswith("/blob/af95e4b/tome/merge.py")
    with pytest.raises(ValueError, match="owner/name"):
        Official("ToMe", "af95e4b")
    with pytest.raises(ValueError, match="exactly one of"):
        conformance_claim("c", method="m", params={}, where="w", compare="a:b")


def test_without_a_checkout_the_claim_is_skipped_naming_the_option(monkeypatch):
    monkeypatch.delenv("TOKZOO_OFFICIAL_SOMEONE_FAKE", raising=False)
    spec = _spec("abcdef0123")
    rec = zr.run_claim(spec, spec.claims[0], zr.RunOptions(write=False))
    assert rec.status == "skipped"
    assert rec.reason == "needs official checkout someone/fake@abcdef0 (--official PATH)"
    assert rec.kind == "conformance" and rec.direction == "lower" and rec.tolerance == 1e-10


@pytest.mark.parametrize("how", ["bare", "named", "env"])
def test_checkout_given_three_ways_runs_and_records_the_commit(checkout, monkeypatch, how):
    repo, head = checkout
    spec = _spec(head)
    given = {"bare": {"": str(repo)}, "named": {"someone/fake": str(repo)}, "env": {}}[how]
    if how == "env":
        monkeypatch.setenv("TOKZOO_OFFICIAL_SOMEONE_FAKE", str(repo))
    rec = zr.run_claim(spec, spec.claims[0], zr.RunOptions(write=False, official=given))
    assert rec.status == "reproduced", rec.reason
    ref = rec.details["reference"]
    assert ref["repository"] == "someone/fake" and ref["head"] == head and ref["commit_verified"] is True
    assert rec.details["dtype"] == "float64" and rec.details["max_abs_diff"] == {"out": 0}
    assert "fakepkg" not in sys.modules  # the official modules do not leak
    assert not Path("missing").exists()  # nor the files the official code writes into its working directory


def test_a_difference_or_a_kept_index_mismatch_deviates(checkout):
    repo, head = checkout
    spec = _spec(head, bug=1)
    rec = zr.run_claim(spec, spec.claims[0], zr.RunOptions(write=False, official={"": str(repo)}))
    assert rec.status == "deviates" and rec.measured == 1
    assert "check failed: same kept tokens" in rec.reason


def test_a_checkout_at_another_commit_is_refused(checkout):
    repo, head = checkout
    spec = _spec("0000000")
    rec = zr.run_claim(spec, spec.claims[0], zr.RunOptions(write=False, official={"": str(repo)}))
    assert rec.status == "skipped" and f"is at {head[:12]}" in rec.reason and "checkout 0000000" in rec.reason


def test_an_exported_folder_runs_but_is_marked_unverified(tmp_path):
    folder = tmp_path / "export"
    (folder / "fakepkg").mkdir(parents=True)
    (folder / "fakepkg" / "__init__.py").write_text("def double(xs):\n    return [2 * x for x in xs]\n")
    ref = resolve_checkout(Official("someone/fake", "abcdef0"), {"": str(folder)})
    assert ref.head == "" and ref.commit_verified is False
    with pytest.raises(Unavailable, match="is not a folder"):
        resolve_checkout(Official("someone/fake", "abcdef0"), {"": str(tmp_path / "missing")})


def test_package_reference():
    spec = PaperSpec("toy", "Toy", "", [conformance_claim(
        "conformance-pkg", method="toy", params={}, package="surely-not-installed-pkg", where="f()",
        compare=lambda ctx, ref, params, dtype: measurement(ref, dtype, differences={"x": 0.0}))])
    rec = zr.run_claim(spec, spec.claims[0], zr.RunOptions(write=False))
    assert rec.status == "skipped" and "package surely-not-installed-pkg (pip install" in rec.reason
    spec = PaperSpec("toy", "Toy", "", [conformance_claim(
        "conformance-pkg", method="toy", params={}, package="pyyaml", where="f()",
        compare=lambda ctx, ref, params, dtype: measurement(ref, dtype, differences={"x": 0.0}))])
    rec = zr.run_claim(spec, spec.claims[0], zr.RunOptions(write=False))
    assert rec.status == "reproduced" and rec.details["reference"]["package"] == "pyyaml"


def test_cli_official_option(checkout, tmp_path, monkeypatch):
    from zoo.cli import repro_cmds

    repo, head = checkout
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "toy.py").write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom test_repro_conformance import _spec\nSPEC = _spec(%r)\n"
        % (str(__import__("pathlib").Path(__file__).parent), head))
    monkeypatch.setenv("TOKZOO_REPRO_DIR", str(folder))
    app = typer.Typer()
    repro_cmds.register(app)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(app, ["repro", "toy", "--no-write", "--official", str(repo)])
    assert res.exit_code == 0, res.output
    assert "conformance 1/1" in res.output and "<= 1e-10" in res.output
    res = CliRunner().invoke(app, ["repro", "toy", "--no-write", "--official", "a", "--official", "b"])
    assert res.exit_code != 0 and "owner/repo=PATH" in res.output
    assert isinstance(Reference("package", "x"), Reference)


def test_every_shipped_conformance_claim_names_a_real_harness_and_a_pinned_commit():
    import importlib

    from zoo.repro.spec import OFFICIAL_NEED

    found = 0
    for paper in zr.list_papers():
        for claim in zr.load_spec(paper).claims:
            if claim.kind != "conformance":
                continue
            found += 1
            module, _, name = claim.setting["harness"].partition(":")
            assert callable(getattr(importlib.import_module(module), name)), claim.id
            refs = [n for n in claim.needs if n.startswith(("official:", "package:"))]
            assert len(refs) == 1 and (refs[0].startswith("package:") or OFFICIAL_NEED.match(refs[0])), claim.id
            assert claim.direction == "lower" and claim.reported == 0 and claim.tolerance > 0
    assert found >= 8
