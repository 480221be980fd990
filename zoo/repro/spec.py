"""What a repro script declares: a paper's claims, each with its source and how to measure it.

A repro script ``repro/<paper_id>.py`` builds one :class:`PaperSpec` named ``SPEC``. Each
:class:`Claim` says what the paper reports (value, unit, exact setting), where (a
:class:`Source`: table/figure/section of a given version of the paper, or a README at a
commit), how close a measurement must be (``tolerance`` in the claim's unit and the metric
``direction``), what the measurement needs (``cpu``, ``cuda``, ``weights:<hub id>``,
``dataset:<name>``) and a ``measure`` function returning a :class:`Measurement`.

Needs (``Claim.needs``):

- ``cpu`` / ``cuda``: the device;
- ``weights:<hub id or name>`` and ``dataset:<name>``: given with ``--weights`` /
  ``--data-dir`` (or env), or downloadable from the Hugging Face hub;
- ``official:<owner>/<repo>@<commit>``: a local checkout of the authors' repository at that
  commit, given with ``--official PATH`` (or ``--official owner/repo=PATH``, or env
  ``TOKZOO_OFFICIAL_<OWNER>_<REPO>``); conformance claims compare against it
  (:mod:`zoo.repro.conformance`);
- ``package:<distribution>``: an installable package of the authors' code (e.g.
  ``package:tomesd``), used when it is installed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from zoo.vocab import CLAIM_KIND

#: direction of a metric: "equal" (two-sided: analytic numbers), "higher" (higher is
#: better: accuracy, throughput, speedup; a measurement above the reported value passes),
#: "lower" (lower is better: latency, FLOPs, memory).
DIRECTIONS: dict[str, str] = {
    "equal": "|measured - reported| <= tolerance",
    "higher": "measured >= reported - tolerance (higher is better)",
    "lower": "measured <= reported + tolerance (lower is better)",
}

NEED_PREFIXES = ("weights:", "dataset:", "official:", "package:")
PLAIN_NEEDS = ("cpu", "cuda")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: ``official:<owner>/<repo>@<commit>`` (commit: 7 to 40 hex digits)
OFFICIAL_NEED = re.compile(r"^official:(?P<repo>[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*)@(?P<commit>[0-9a-f]{7,40})$")


class Unavailable(Exception):
    """Raised by a measurement when something it needs is missing here (a method not yet
    registered, an optional package not installed); the claim is then ``skipped`` with
    ``needs <message>`` instead of ``failed``."""


@dataclass(frozen=True)
class Source:
    """Where a reported number comes from.

    ``ref``: the document and its version, e.g. ``"arXiv:2403.06764v3"`` or
    ``"github.com/pkunlp-icler/FastV README.md@01a5b86"``; ``where``: the exact place
    (``"Table 1, row 'FastV K=2 R=50%'"``, ``"Abstract"``); ``url``: a link to it.
    """

    ref: str
    where: str
    url: str = ""

    def __str__(self) -> str:
        return f"{self.ref}, {self.where}"


@dataclass
class Measurement:
    """What a measure function returns.

    ``value`` is in the claim's unit. ``details`` holds the evidence: the baseline and
    method numbers measured in the same run, the random-pruning control, per-layer token
    schedules, the convention used. ``params`` are the method parameters in the zoo's
    notation. ``label`` notes how it was measured (e.g. ``"random weights"``).
    """

    value: float
    details: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    #: named yes/no checks that must all hold for ``reproduced`` besides the value (conformance:
    #: ``{"kept indices equal": True}``); a failed check makes the claim ``deviates``
    checks: dict[str, bool] = field(default_factory=dict)
    #: why no verdict can be drawn from this measurement (a speed claim on a busy machine);
    #: non-empty makes the record ``inconclusive`` with this reason
    inconclusive: str = ""


@dataclass
class Claim:
    """One reported number of a paper and how tokzoo checks it."""

    id: str
    kind: str
    description: str
    reported: float
    unit: str
    setting: dict[str, Any]
    source: Source
    measure: Callable[[Any], Measurement]
    tolerance: float = 0.0
    direction: str = "equal"
    needs: tuple[str, ...] = ("cpu",)
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    #: run only when its kind is asked for explicitly (``--kind latency``): too heavy for a default run
    on_demand: bool = False
    #: when the paper's own number cannot be reproduced by its stated formula: why (kept with a "deviates" status)
    known_deviation: str = ""

    def __post_init__(self) -> None:
        where = f"claim {self.id!r}"
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ValueError(f"{where}: id must match {_ID.pattern} (lower-case, digits, '.', '_', '-')")
        if self.kind not in CLAIM_KIND:
            raise ValueError(f"{where}: kind={self.kind!r}; allowed: {', '.join(CLAIM_KIND)}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{where}: direction={self.direction!r}; allowed: {', '.join(DIRECTIONS)}")
        if not isinstance(self.reported, (int, float)) or isinstance(self.reported, bool) or not math.isfinite(self.reported):
            raise ValueError(f"{where}: reported={self.reported!r} must be a finite number")
        if not isinstance(self.tolerance, (int, float)) or self.tolerance < 0:
            raise ValueError(f"{where}: tolerance={self.tolerance!r} must be a number >= 0")
        if not self.unit:
            raise ValueError(f"{where}: unit is empty; say what the number counts ('%', 'tokens', 'GFLOPs', 'x', ...)")
        if not isinstance(self.source, Source) or not self.source.ref or not self.source.where:
            raise ValueError(f"{where}: source must be a Source with ref and where (table/figure/section)")
        if not callable(self.measure):
            raise ValueError(f"{where}: measure must be callable (context -> Measurement)")
        self.needs = tuple(self.needs)
        for need in self.needs:
            if need not in PLAIN_NEEDS and not (need.startswith(NEED_PREFIXES) and len(need.split(":", 1)[1]) > 0):
                raise ValueError(
                    f"{where}: need {need!r} not understood; allowed: cpu, cuda, weights:<hub id or name>, "
                    "dataset:<name>, official:<owner>/<repo>@<commit>, package:<distribution>"
                )
            if need.startswith("official:") and not OFFICIAL_NEED.match(need):
                raise ValueError(f"{where}: need {need!r} must read official:<owner>/<repo>@<commit> "
                                 "(commit: 7-40 lower-case hex digits)")
        if not self.setting:
            raise ValueError(f"{where}: setting is empty; give the model, budget, tokens, benchmark/split, metric")

    @property
    def requirements(self) -> dict[str, list[str]]:
        """``{"device": [...], "weights": [...], "dataset": [...], "official": ["owner/repo@commit"], "package": [...]}``."""
        out: dict[str, list[str]] = {"device": [], "weights": [], "dataset": [], "official": [], "package": []}
        for need in self.needs:
            if need in PLAIN_NEEDS:
                out["device"].append(need)
            else:
                prefix, _, name = need.partition(":")
                out[prefix].append(name)
        return out


@dataclass
class PaperSpec:
    """All claims of one paper. ``paper_id`` is the catalog id (== method id when implemented)."""

    paper_id: str
    title: str
    arxiv: str
    claims: list[Claim]
    method: str = ""
    notes: str = ""
    #: where the script was loaded from (filled by the loader)
    path: Optional[str] = None

    def __post_init__(self) -> None:
        if not _ID.match(self.paper_id or ""):
            raise ValueError(f"PaperSpec: paper_id={self.paper_id!r} must be a catalog id")
        seen: set[str] = set()
        for c in self.claims:
            if not isinstance(c, Claim):
                raise ValueError(f"PaperSpec {self.paper_id}: claims must be Claim objects, got {type(c).__name__}")
            if c.id in seen:
                raise ValueError(f"PaperSpec {self.paper_id}: duplicate claim id {c.id!r}")
            seen.add(c.id)
        if not self.claims and not self.notes.strip():
            raise ValueError(f"PaperSpec {self.paper_id}: no claims; say in notes why no number could be sourced")

    def claim(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise KeyError(f"{self.paper_id}: no claim {claim_id!r}; claims: {', '.join(c.id for c in self.claims)}")

    def kinds(self) -> list[str]:
        return sorted({c.kind for c in self.claims})


def printed(decimals: int) -> float:
    """Tolerance of a number printed with ``decimals`` decimals: half a unit of the last digit.

    ``printed(0)`` for "45%" is 0.5 (anything that rounds to 45 matches); a relative epsilon of
    1e-9 absorbs binary floating point at the exact half (small enough for ten printed digits).
    """
    if decimals < 0:
        raise ValueError(f"printed: decimals={decimals} must be >= 0")
    return 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)


def compare(claim: Claim, measured: float) -> str:
    """``"reproduced"`` or ``"deviates"`` for a measured value of ``claim``."""
    if measured is None or not math.isfinite(measured):
        return "deviates"
    r, tol = claim.reported, claim.tolerance
    if claim.direction == "equal":
        ok = abs(measured - r) <= tol
    elif claim.direction == "higher":
        ok = measured >= r - tol
    else:
        ok = measured <= r + tol
    return "reproduced" if ok else "deviates"
