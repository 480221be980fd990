"""Run a paper's claims: check what each needs, measure, compare, and write records.

``run_paper(spec, options)`` returns one :class:`~zoo.repro.records.Record` per claim. A
claim whose needs are missing here gets ``skipped`` with the reason (``needs cuda, weights
llava-hf/llava-1.5-7b-hf, dataset ...``); an exception inside a measurement gives
``failed`` with the message; otherwise the measured value is compared with the reported one.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from zoo.repro import loader, provenance
from zoo.repro.records import CorruptRecord, Record, save_record
from zoo.repro.spec import Claim, PaperSpec, Unavailable, compare


@dataclass
class RunOptions:
    """How to run claims.

    ``kinds``: only these claim kinds (empty: all; an on-demand claim runs only when its kind
    is listed). ``claims``: only these claim ids. ``data``: dataset name -> local path
    (also read from ``TOKZOO_DATA_<NAME>``, e.g. ``TOKZOO_DATA_IMAGENET_VAL``).
    ``weights``: hub id or name -> local path. ``device``: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    ``download``: allow fetching weights/datasets from the Hugging Face hub (default: unless
    ``HF_HUB_OFFLINE=1``). ``limit``: evaluate at most this many examples (quick runs).
    ``official``: ``owner/repo`` -> local checkout of the authors' code (key ``""``: the one
    checkout of a run, ``--official PATH``); see :mod:`zoo.repro.conformance`.
    ``results_dir``: where records are written (default :func:`zoo.repro.loader.user_results_dir`,
    a per-user folder; ``tokzoo repro --record`` passes the committed ``repro/results``).
    """

    kinds: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()
    data: dict[str, str] = field(default_factory=dict)
    weights: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "auto"
    download: Optional[bool] = None
    limit: Optional[int] = None
    repeats: int = 5
    write: bool = True
    results_dir: Optional[Path] = None
    official: dict[str, str] = field(default_factory=dict)
    source: str = "tokzoo"
    threads: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)


class Context:
    """What a measure function gets: options, resolved paths, configs, and a progress hook."""

    def __init__(self, options: RunOptions, claim: Claim, progress: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.claim = claim
        self._progress = progress

    # configs shipped in repro/configs
    def config(self, name: str) -> dict[str, Any]:
        return loader.load_config(name)

    def decoder(self, name: str):
        """``zoo.flops.DecoderConfig`` of the LLM part of ``repro/configs/<name>.json``."""
        from zoo.flops import DecoderConfig

        return DecoderConfig.from_dict(self.config(name), name=name)

    def data_path(self, name: str) -> Optional[str]:
        return resolve_data(name, self.options)

    def weights_path(self, name: str) -> str:
        """A local path given for ``name``, else ``name`` itself (a hub id loaded by its library)."""
        return self.options.weights.get(name) or os.environ.get(_env_name("TOKZOO_WEIGHTS_", name)) or name

    @property
    def device(self) -> str:
        if self.options.device != "auto":
            return self.options.device
        return "cuda" if "cuda" in self.claim.needs else "cpu"

    def progress(self, message: str) -> None:
        if self._progress:
            self._progress(message)


def _env_name(prefix: str, name: str) -> str:
    return prefix + "".join(ch if ch.isalnum() else "_" for ch in name).upper()


def resolve_data(name: str, options: RunOptions) -> Optional[str]:
    path = options.data.get(name) or os.environ.get(_env_name("TOKZOO_DATA_", name))
    return path or None


def _download_allowed(options: RunOptions) -> bool:
    if options.download is not None:
        return options.download
    return os.environ.get("HF_HUB_OFFLINE", "0") not in {"1", "true", "TRUE", "yes"}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _weights_available(name: str, options: RunOptions) -> bool:
    local = options.weights.get(name) or os.environ.get(_env_name("TOKZOO_WEIGHTS_", name))
    if local:
        return Path(local).exists()
    if "/" in name:  # a hub id: cached, or downloadable
        try:
            from huggingface_hub import try_to_load_from_cache

            if isinstance(try_to_load_from_cache(name, "config.json"), str):
                return True
        except Exception:  # noqa: BLE001 - no hub library or odd cache: fall through
            pass
        return _download_allowed(options)
    return False


def _dataset_available(name: str, options: RunOptions) -> bool:
    path = resolve_data(name, options)
    if path:
        return Path(path).exists()
    return "/" in name and _download_allowed(options)  # a hub dataset id


def _official_given(spec: str, options: RunOptions) -> bool:
    from zoo.repro.conformance import Official, official_path

    return official_path(Official.parse(spec), options.official) is not None


def missing_needs(claim: Claim, options: RunOptions) -> list[str]:
    """What ``claim`` needs that this machine/run lacks, as ``["cuda", "weights X", "dataset Y"]``."""
    from zoo.repro.conformance import package_installed

    req = claim.requirements
    missing: list[str] = []
    if "cuda" in req["device"] and (options.device == "cpu" or not _cuda_available()):
        missing.append("cuda")
    missing += [f"weights {w}" for w in req["weights"] if not _weights_available(w, options)]
    missing += [f"dataset {d}" for d in req["dataset"] if not _dataset_available(d, options)]
    missing += [f"official checkout {o} (--official PATH)" for o in req["official"] if not _official_given(o, options)]
    missing += [f"package {p} (pip install {p})" for p in req["package"] if not package_installed(p)]
    return missing


def selected(claim: Claim, options: RunOptions) -> tuple[bool, str]:
    """Whether ``claim`` runs under ``options``; if not, why."""
    if options.claims and claim.id not in options.claims:
        return False, "not selected"
    if options.kinds and claim.kind not in options.kinds:
        return False, "not selected"
    if claim.on_demand and claim.kind not in options.kinds:
        return False, f"on demand: too heavy for a default run (run with --kind {claim.kind})"
    return True, ""


def _base_record(spec: PaperSpec, claim: Claim, options: RunOptions) -> Record:
    return Record(
        paper_id=spec.paper_id, claim_id=claim.id, kind=claim.kind, status="skipped",
        reported=float(claim.reported), unit=claim.unit, direction=claim.direction, tolerance=float(claim.tolerance),
        setting=dict(claim.setting), claim_source=str(claim.source), claim_source_url=claim.source.url,
        method=claim.method or spec.method, params=dict(claim.params), source=options.source,
        versions=provenance.versions(), hardware=provenance.hardware(), commit=provenance.git_commit(loader.repo_root()),
        date=provenance.now(),
    )


def run_claim(spec: PaperSpec, claim: Claim, options: RunOptions, progress: Callable[[str], None] | None = None) -> Record:
    """Measure one claim (or say why not) and return its record (not written)."""
    record = _base_record(spec, claim, options)
    missing = missing_needs(claim, options)
    if missing:
        record.reason = "needs " + ", ".join(missing)
        return record
    if options.threads:
        _set_threads(options.threads)
    ctx = Context(options, claim, progress)
    start = time.perf_counter()
    try:
        m = claim.measure(ctx)
    except Unavailable as exc:
        record.reason = f"needs {exc}"
        record.duration_s = round(time.perf_counter() - start, 3)
        return record
    except Exception as exc:  # noqa: BLE001 - a failed measurement is a result, not a crash
        record.status = "failed"
        record.reason = f"{type(exc).__name__}: {exc}"
        record.details = {"traceback": traceback.format_exc(limit=8)}
        record.duration_s = round(time.perf_counter() - start, 3)
        return record
    record.duration_s = round(time.perf_counter() - start, 3)
    value = float(m.value)
    record.details = dict(m.details)
    record.measured = value if math.isfinite(value) else None  # JSON holds finite numbers only
    if not math.isfinite(value):
        record.details["measured_not_finite"] = repr(value)
    if m.params:
        record.params = dict(m.params)
    record.label = m.label
    record.status = compare(claim, value)
    failed_checks = [name for name, ok in m.checks.items() if not ok]
    if m.checks:
        record.details["checks"] = {name: bool(ok) for name, ok in m.checks.items()}
    if failed_checks and record.status == "reproduced":
        record.status = "deviates"
    if m.inconclusive:
        record.status = "inconclusive"
        record.reason = m.inconclusive
    elif record.status == "deviates":
        why = [claim.known_deviation or ("outside tolerance" if compare(claim, value) == "deviates" else "")]
        why += [f"check failed: {name}" for name in failed_checks]
        record.reason = "; ".join(w for w in why if w)
    record.hardware = provenance.hardware(with_torch=True)
    return record


def _is_main_process() -> bool:
    """Under ``accelerate launch`` / ``torchrun`` only rank 0 writes records."""
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def _set_threads(n: int) -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(int(n))


def output_dir(options: RunOptions) -> Path:
    """Where ``options`` writes records (the per-user folder unless a folder was given)."""
    return Path(options.results_dir) if options.results_dir else loader.user_results_dir()


def run_paper(spec: PaperSpec, options: RunOptions | None = None,
              on_claim: Callable[[Claim, Optional[Record]], None] | None = None,
              progress: Callable[[str], None] | None = None,
              on_problem: Callable[[str], None] | None = None) -> list[Record]:
    """Run every selected claim of ``spec``; writes records unless ``options.write`` is false.

    ``on_claim(claim, None)`` is called before a claim runs and ``on_claim(claim, record)``
    after (for progress displays). Claims not selected by ``kinds``/``claims`` are left out;
    on-demand claims not asked for are recorded as skipped with the reason. A record that
    cannot be written (the file there is corrupt: never overwritten silently) is reported to
    ``on_problem(message)`` (default: a warning) and the run goes on.
    """
    import warnings

    options = options or RunOptions()
    out: list[Record] = []
    for claim in spec.claims:
        ok, why = selected(claim, options)
        if not ok and why == "not selected":
            continue
        if on_claim:
            on_claim(claim, None)
        if ok:
            record = run_claim(spec, claim, options, progress)
        else:
            record = _base_record(spec, claim, options)
            record.reason = why
        if options.write and _is_main_process():
            try:
                save_record(record, output_dir(options))
            except (CorruptRecord, OSError) as exc:
                message = f"record {spec.paper_id}/{claim.id} not written: {exc}"
                if on_problem is not None:
                    on_problem(message)
                else:
                    warnings.warn(message, stacklevel=2)
        out.append(record)
        if on_claim:
            on_claim(claim, record)
    return out
