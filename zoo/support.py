"""One method x model support matrix over every runtime (what ``tokzoo methods --support`` and the site show).

tokzoo has three runtimes, and each says on its own terms where a method runs:

- encoders (:func:`zoo.families.encoders.support.support`): ``yes`` / ``depends`` / ``no`` from the
  signals a method needs and an adapter offers (``depends``: e.g. a timm ViT with or without [CLS]);
- decoders (:func:`zoo.families.decoders.support.support_matrix`): supported or not per model class,
  from the signals a method needs and an adapter provides, or the method's own word;
- diffusion (:func:`zoo.families.diffusion.support.support`): the method's families and signals.

:func:`support_matrix` asks each runtime about its own adapters and returns one :class:`Cell` per
registered method (``zoo.papers.REGISTRY``) x adapter (``zoo.families.ADAPTERS``); a method of
another runtime gets ``no`` with the adapters it runs on. Nothing is decided here that a runtime
decides: the cells only translate the runtimes' answers into one vocabulary.

Light at import (no torch); computing the matrix imports the method modules, hence torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: status words, in the order of the legend
STATUSES: dict[str, str] = {
    "yes": "runs on every model the adapter serves",
    "depends": "runs on the models that offer what the reason names",
    "no": "does not run (the reason says why)",
}
#: short cell text of each status in the CLI's grid
SHORT: dict[str, str] = {"yes": "yes", "depends": "dep", "no": "no"}

#: runtime -> the package its adapters live in (an adapter's runtime is read from its ADAPTERS path)
RUNTIME_PACKAGES: dict[str, str] = {
    "encoder": "zoo.families.encoders.",
    "decoder": "zoo.families.decoders.",
    "diffusion": "zoo.families.diffusion.",
}
#: what a method of each runtime is called in a reason
RUNTIME_NOUN: dict[str, str] = {
    "encoder": "an encoder method",
    "decoder": "a decoder-LM method",
    "diffusion": "a diffusion method",
}


@dataclass(frozen=True)
class Cell:
    """One (method, adapter) pair.

    ``runtime``: ``encoder`` / ``decoder`` / ``diffusion`` (the adapter's); ``model_classes``: the
    library classes the adapter serves where it declares them (``serves`` describes them in words);
    ``status``: a key of :data:`STATUSES`; ``reason``: why not (``no``), or on which models
    (``depends``); empty for ``yes``.
    """

    method: str
    adapter: str
    runtime: str
    model_classes: tuple[str, ...]
    serves: str
    status: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "no"

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "adapter": self.adapter, "runtime": self.runtime,
                "model_classes": list(self.model_classes), "serves": self.serves,
                "status": self.status, "reason": self.reason}


def runtime_of(adapter: str) -> str:
    """The runtime (a key of :data:`RUNTIME_PACKAGES`) of an adapter name in ``zoo.families.ADAPTERS``."""
    from zoo.families import ADAPTERS

    if adapter not in ADAPTERS:
        raise KeyError(f"unknown adapter {adapter!r}; known: {', '.join(ADAPTERS)}")
    for runtime, package in RUNTIME_PACKAGES.items():
        if ADAPTERS[adapter].startswith(package):
            return runtime
    raise KeyError(f"adapter {adapter!r} ({ADAPTERS[adapter]}) belongs to no known runtime "
                   f"({', '.join(RUNTIME_PACKAGES)})")


def adapters_by_runtime() -> dict[str, tuple[str, ...]]:
    """Runtime -> its adapters, in ``ADAPTERS`` order."""
    from zoo.families import ADAPTERS

    out: dict[str, list[str]] = {r: [] for r in RUNTIME_PACKAGES}
    for name in ADAPTERS:
        out[runtime_of(name)].append(name)
    return {r: tuple(names) for r, names in out.items()}


def _served(adapter: str) -> tuple[tuple[str, ...], str]:
    from zoo.families import adapter_class

    cls = adapter_class(adapter)
    classes = tuple(getattr(cls, "model_classes", ()) or ())
    serves = str(getattr(cls, "serves", "") or ", ".join(classes))
    return classes, serves


def _foreign_reason(method_id: str, families: tuple[str, ...]) -> str:
    """Why a method runs on no adapter of this runtime: what it is, and where it runs."""
    if not families:
        return f"{method_id} runs on no registered adapter"
    kinds = sorted({runtime_of(f) for f in families})
    noun = RUNTIME_NOUN[kinds[0]] if len(kinds) == 1 else "a method of " + " and ".join(kinds) + " models"
    return f"{noun}; runs on: {', '.join(families)}"


def _decoder_answers() -> dict[tuple[str, str], tuple[bool, str]]:
    """(method, adapter) -> (supported, reason) from the decoder runtime (one answer per adapter)."""
    from zoo.families.decoders.support import support_matrix as decoder_matrix

    out: dict[tuple[str, str], tuple[bool, str]] = {}
    for row in decoder_matrix():
        key = (row.method, row.adapter)
        answer = (row.supported, row.reason)
        if out.setdefault(key, answer) != answer:
            raise ValueError(f"the decoder runtime answers differently for the model classes of {row.adapter} "
                             f"({row.method}); the uniform matrix has one cell per adapter")
    return out


def _cell(method_id: str, families: tuple[str, ...], adapter: str, runtime: str,
          decoder: dict[tuple[str, str], tuple[bool, str]]) -> tuple[str, str]:
    """(status, reason) of one pair, from the adapter's runtime."""
    if not set(families) & set(adapters_by_runtime()[runtime]):
        return "no", _foreign_reason(method_id, families)
    if runtime == "encoder":
        from zoo.families.encoders.support import support

        s = support(method_id, adapter)
        return s.status, s.reason
    if runtime == "decoder":
        ok, reason = decoder[(method_id, adapter)]
        return ("yes", "") if ok else ("no", reason)
    from zoo.families.diffusion.support import support as diffusion_support

    d = diffusion_support(method_id, adapter)
    return ("yes", "") if d.supported else ("no", d.reason)


def support_matrix(methods: list[str] | None = None, adapters: list[str] | None = None) -> list[Cell]:
    """Every registered method x every adapter (or the given ones), method-major, with status and reason.

    Unknown names raise ``KeyError`` naming the known ones.
    """
    from zoo.families import ADAPTERS
    from zoo.interface import method_class
    from zoo.papers import REGISTRY

    method_ids = list(REGISTRY) if methods is None else list(methods)
    adapter_names = list(ADAPTERS) if adapters is None else list(adapters)
    for m in method_ids:
        if m not in REGISTRY:
            raise KeyError(f"unknown method {m!r}; registered: {', '.join(REGISTRY)}")
    for a in adapter_names:
        if a not in ADAPTERS:
            raise KeyError(f"unknown adapter {a!r}; known: {', '.join(ADAPTERS)}")
    decoder = _decoder_answers() if any(runtime_of(a) == "decoder" for a in adapter_names) else {}
    served = {a: _served(a) for a in adapter_names}
    cells = []
    for m in method_ids:
        families = tuple(method_class(m).families)
        for a in adapter_names:
            runtime = runtime_of(a)
            status, reason = _cell(m, families, a, runtime, decoder)
            if status not in STATUSES:
                raise ValueError(f"{m} on {a}: status {status!r} is not one of {', '.join(STATUSES)}")
            cells.append(Cell(m, a, runtime, served[a][0], served[a][1], status, reason))
    return cells


def support_records(methods: list[str] | None = None) -> list[dict[str, Any]]:
    """:func:`support_matrix` as JSON-ready dicts (what the site metadata stores)."""
    return [c.as_dict() for c in support_matrix(methods)]
