"""Per-kind reproduction status: counts per status kind, and a paper word that never calls
arithmetic alone a reproduction."""

from __future__ import annotations

import pytest

from zoo.repro.records import Record
from zoo.repro.spec import Claim, Measurement, PaperSpec, Source, printed
from zoo.repro.status import derive_status, kind_group, kind_statuses, status_line

SRC = Source("arXiv:0000.00000v1", "Table 1")


def claim(cid: str, kind: str) -> Claim:
    return Claim(id=cid, kind=kind, description="d", reported=1.0, unit="x", setting={"model": "m"},
                 source=SRC, measure=lambda ctx: Measurement(1.0), tolerance=printed(0))


def rec(cid: str, kind: str, status: str, label: str = "") -> Record:
    return Record(paper_id="toy", claim_id=cid, kind=kind, status=status, reported=1.0, unit="x",
                  measured=None if status == "skipped" else 1.0, label=label)


def test_kind_groups():
    assert kind_group("latency") == kind_group("throughput") == "speed"
    assert kind_group("fidelity") == "accuracy" and kind_group("conformance") == "conformance"
    with pytest.raises(KeyError, match="claim kind 'speed'"):
        kind_group("speed")


def test_counts_and_line_per_kind():
    spec = PaperSpec("toy", "Toy", "", [claim("a1", "analytic"), claim("a2", "analytic"), claim("s1", "throughput"),
                                        claim("c1", "conformance"), claim("q1", "accuracy"), claim("q2", "accuracy")])
    records = [rec("a1", "analytic", "reproduced"), rec("a2", "analytic", "reproduced"),
               rec("s1", "throughput", "reproduced", "random weights, cpu, float32"),
               rec("c1", "conformance", "reproduced"), rec("q1", "accuracy", "skipped")]
    kinds = kind_statuses(spec, records)
    assert list(kinds) == ["analytic", "speed", "conformance", "accuracy"]
    assert status_line(spec, records) == ("analytic 2/2 · speed 1/1 (cpu, random weights) · conformance 1/1 · "
                                          "accuracy 0/2, not run")
    assert kinds["accuracy"].word == "not run" and kinds["speed"].word == "reproduced"
    assert derive_status(spec, records) == "partial"


def test_arithmetic_alone_is_never_plainly_reproduced():
    spec = PaperSpec("toy", "Toy", "", [claim("a1", "analytic")])
    assert derive_status(spec, [rec("a1", "analytic", "reproduced")]) == "analytic only"
    both = PaperSpec("toy", "Toy", "", [claim("a1", "analytic"), claim("s1", "latency")])
    assert derive_status(both, [rec("a1", "analytic", "reproduced"), rec("s1", "latency", "reproduced")]) == (
        "reproduced, no accuracy claim")
    conf = PaperSpec("toy", "Toy", "", [claim("a1", "analytic"), claim("c1", "conformance")])
    assert derive_status(conf, [rec("a1", "analytic", "reproduced"), rec("c1", "conformance", "reproduced")]) == (
        "reproduced, no accuracy claim")
    full = PaperSpec("toy", "Toy", "", [claim("a1", "analytic"), claim("q1", "accuracy")])
    assert derive_status(full, [rec("a1", "analytic", "reproduced"), rec("q1", "accuracy", "reproduced")]) == "reproduced"


def test_inconclusive_speed_is_not_a_deviation():
    spec = PaperSpec("toy", "Toy", "", [claim("s1", "latency"), claim("a1", "analytic")])
    records = [rec("s1", "latency", "inconclusive"), rec("a1", "analytic", "reproduced")]
    kinds = kind_statuses(spec, records)
    assert kinds["speed"].word == "inconclusive" and kinds["speed"].text() == "speed 0/1, 1 inconclusive"
    assert derive_status(spec, records) == "partial"
    assert derive_status(spec, [rec("s1", "latency", "inconclusive")]) == "not run"
