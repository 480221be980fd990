"""Paper-level reproduction status (vocab ``REPRO_STATUS``) derived from claim records."""

from __future__ import annotations

from typing import Iterable

from zoo.repro.records import Record
from zoo.repro.spec import PaperSpec


def derive_status(spec: PaperSpec, records: Iterable[Record]) -> str:
    """``reproduced`` | ``partial`` | ``deviates`` | ``failed`` | ``not run`` for one paper.

    Only records of claims the spec still declares count. ``deviates`` if any measured claim
    is outside tolerance; else ``failed`` if any measurement errored; else ``reproduced``
    when every claim is reproduced; ``partial`` when some are and others were not measured;
    ``not run`` when none was measured.
    """
    ids = {c.id for c in spec.claims}
    by_claim = {r.claim_id: r for r in records if r.claim_id in ids}
    statuses = [by_claim[c].status if c in by_claim else "skipped" for c in ids]
    if "deviates" in statuses:
        return "deviates"
    if "failed" in statuses:
        return "failed"
    n_ok = statuses.count("reproduced")
    if n_ok == 0:
        return "not run"
    return "reproduced" if n_ok == len(statuses) else "partial"


def summary(spec: PaperSpec, records: Iterable[Record]) -> dict[str, int]:
    """Counts of claim statuses (claims without a record count as ``skipped``)."""
    ids = [c.id for c in spec.claims]
    by_claim = {r.claim_id: r for r in records if r.claim_id in ids}
    out = {"reproduced": 0, "deviates": 0, "failed": 0, "skipped": 0}
    for cid in ids:
        out[by_claim[cid].status if cid in by_claim else "skipped"] += 1
    return out
