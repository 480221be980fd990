"""The shipped repro scripts: one per implemented paper, every claim sourced, analytic claims pass.

The analytic claims run here (they are what CI checks): each must be reproduced, or deviate
with a stated reason (``known_deviation``). Claims needing a GPU, weights or data are not run
here; their needs must be declared.
"""

from __future__ import annotations

import re

import pytest

import zoo.repro as zr
from zoo.papers import REGISTRY
from zoo.vocab import CLAIM_KIND

CONTROLS = {"random", "pooling", "frame-subsample", "video-random"}  # controls: no paper, no repro script
PAPERS = zr.list_papers()


def test_every_implemented_method_has_a_repro_script():
    missing = sorted(set(REGISTRY) - CONTROLS - set(PAPERS))
    assert not missing, f"methods without repro/<id>.py: {missing}"


@pytest.mark.parametrize("paper_id", PAPERS)
def test_spec_is_complete_and_sourced(paper_id):
    spec = zr.load_spec(paper_id)
    assert spec.paper_id == paper_id and spec.title and spec.notes
    if spec.method:
        assert spec.method in REGISTRY
    if not spec.claims:
        assert "no claim" in spec.notes.lower(), "a script without claims must say why in its notes"
    for c in spec.claims:
        assert c.kind in CLAIM_KIND
        assert c.source.ref and c.source.where, c.id
        # a precise place: a version or commit of the document
        assert re.search(r"arXiv:\d{4}\.\d{4,5}v\d|@[0-9a-f]{7}", c.source.ref), (c.id, c.source.ref)
        assert c.setting and c.unit
        if c.kind in {"accuracy", "fidelity"}:
            assert any(n.startswith(("weights:", "dataset:")) for n in c.needs), (c.id, c.needs)
        if c.method and c.params:  # the declared parameters are valid for the registered method
            from zoo.interface import method_class

            method_class(c.method)(**c.params)


ANALYTIC = [(p, c.id) for p in PAPERS for c in zr.load_spec(p).claims
            if c.kind == "analytic" and set(c.needs) <= {"cpu"}]


def test_there_are_analytic_claims():
    assert len(ANALYTIC) >= 10


@pytest.mark.parametrize("paper_id,claim_id", ANALYTIC)
def test_analytic_claim_matches_or_deviation_is_explained(paper_id, claim_id):
    spec = zr.load_spec(paper_id)
    record = zr.run_claim(spec, spec.claim(claim_id), zr.RunOptions(write=False))
    assert record.status in {"reproduced", "deviates"}, (record.status, record.reason, record.details.get("traceback"))
    if record.status == "deviates":
        assert spec.claim(claim_id).known_deviation, f"{paper_id}/{claim_id} deviates without an explanation"
    assert record.measured is not None


def test_committed_records_belong_to_declared_claims():
    for paper_id in PAPERS:
        spec = zr.load_spec(paper_id)
        ids = {c.id for c in spec.claims}
        for rec in zr.load_results(paper_id):
            assert rec.claim_id in ids, f"stale record {paper_id}/{rec.claim_id}"
            assert rec.source in zr.SOURCES and rec.date and rec.versions.get("python")
