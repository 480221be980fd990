"""The standardized interface: methods, reversible patches, runs, and ``zoo.apply``.

A *method* is a small validated dataclass (subclass of :class:`Method`) registered in
``zoo.papers.REGISTRY`` under its catalog id. It says how to score or match tokens and
installs itself on a model through a *family adapter* (``zoo.families``), recording every
change in a :class:`Patch` so that removal restores the model exactly.

Budget vocabulary (one meaning across the zoo):

- ``keep_ratio``: fraction of the reducible tokens kept (0 < keep_ratio <= 1; 1 is a no-op).
- ``keep_tokens``: absolute number of reducible tokens kept.
- ``k`` / ``layers``: where the method acts (0-based index of the block *after which*
  tokens are reduced, unless a method documents otherwise).

A method may also keep its paper's own parameter (ToMe's ``r``, FastV's ``R``) and documents
the mapping in ``paper_notation``. With several reduction points, ``keep_ratio`` is what
survives after the last one (EViT: ``keep_rate ** len(layers)``).

Using a method::

    import zoo
    with zoo.apply(model, "tome", r=16, record_sources=True) as h:   # or h = zoo.apply(...); h.remove()
        logits = model(images)
    h.run.tokens["vit"]          # token count after every block
    h.run.events["vit"]          # ReductionEvent(block, kind, n_before, n_after) per reduction
    h.run.sources["vit"]         # [B, N_out, N_in]: which input tokens each output token stands for
    zoo.flops.vit.run_cost(model, h.run).gmacs   # FLOPs of exactly that schedule

Writing a method (what an implementer writes)::

    @dataclass
    class MyMethod(Method):
        # docstring: a one-line summary (shown by ``tokzoo methods``)
        layers: tuple[int, ...] = (3, 6, 9)        # where it acts
        keep_ratio: float | None = 0.7             # the zoo's budget vocabulary
        id: ClassVar[str] = "my-method"            # == catalog id == REGISTRY key
        arxiv: ClassVar[str] = "2401.00000"        # cited in the module docstring too
        families: ClassVar[tuple[str, ...]] = ("timm-vit",)   # adapters it runs on
        placement: ClassVar[str] = "backbone"      # a zoo.vocab.PLACEMENT key
        paper_notation: ClassVar[dict[str, str]] = {"rho": "keep_ratio: ..."}

        def validate(self): check_ratio(self, "keep_ratio", self.keep_ratio)   # clear errors
        def check_model(self, adapter): check_layer(self, "layers", ..., adapter.depth("vit"))
        def install(self, adapter, patch, run):
            adapter.install_reducer(patch, run, MyReducer(self))   # a zoo.core.reduce.BlockReducer

The reducer only scores/matches tokens and calls the shared ops of ``zoo.core`` (``keep``,
``keep_and_fuse``, ``bipartite_soft_matching`` + ``merge_weighted``/``merge_mlerp``/
``merge_drop``); the adapter runs the blocks, computes the attention outputs the reducer
asks for, tracks sizes/sources/masks and records the run. Generic pruning by a score at one
layer (any family): ``adapter.install_token_pruning(patch, run, layer=..., keep_ratio=...,
scorer=...)`` (see ``zoo.families.base``). Then add ``"my-method": "zoo.papers.my_method:MyMethod"``
to ``zoo.papers.REGISTRY`` and a row to the case table of the family's tests.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

_HANDLE_ATTR = "_tokzoo_handle"
_GUARD_ATTR = "_tokzoo_copy_guard"


class PatchedModelCopyError(TypeError):
    """Raised when a model (or module) with an active tokzoo patch is deep-copied or pickled."""


class CopyGuard:
    """Instance attribute put on every object a :class:`Patch` changes.

    Deep-copying or pickling a patched module would give a copy whose patched forwards (bound
    closures) still run the *original* model's modules, permanently. The guard makes that an
    error naming the fix; ``state_dict()`` is unaffected.
    """

    __slots__ = ("owner",)

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def _refuse(self, what: str):
        raise PatchedModelCopyError(
            f"cannot {what} a {self.owner} while a tokzoo method is applied to it (the copy's patched "
            "forwards would keep calling the original model); remove the handle first (h.remove() or leave "
            "the `with zoo.apply(...)` block), copy, then apply to the copy")

    def __deepcopy__(self, memo):
        self._refuse("deep-copy")

    def __copy__(self):
        self._refuse("copy")

    def __reduce_ex__(self, protocol):
        self._refuse("pickle")

    def __repr__(self) -> str:
        return f"<tokzoo copy guard of a patched {self.owner}>"


class Patch:
    """An undo log of changes made to a model; ``undo()`` restores them in reverse order.

    Only instance-level changes are allowed (instance attributes such as a bound
    ``forward`` on one module, hooks); never class attributes.
    """

    _MISSING = object()

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def set_attr(self, obj: Any, name: str, value: Any) -> None:
        """Set ``obj.name = value`` on the instance, remembering the old instance value.

        The first change to an object also gives it a :class:`CopyGuard` attribute, so that
        ``copy.deepcopy``/``pickle`` of a patched module fail with a clear error instead of
        producing a copy whose forwards still call the original's modules.
        """
        if _GUARD_ATTR not in obj.__dict__ and name != _GUARD_ATTR:
            self._set(obj, _GUARD_ATTR, CopyGuard(type(obj).__name__))
        self._set(obj, name, value)

    def _set(self, obj: Any, name: str, value: Any) -> None:
        old = obj.__dict__.get(name, self._MISSING)

        def restore() -> None:
            if old is self._MISSING:
                obj.__dict__.pop(name, None)
            else:
                obj.__dict__[name] = old

        obj.__dict__[name] = value
        self._undo.append(restore)

    def add_hook(self, handle: Any) -> None:
        """Remember a ``torch.utils.hooks.RemovableHandle`` (or anything with ``remove()``)."""
        self._undo.append(handle.remove)

    def on_undo(self, fn: Callable[[], None]) -> None:
        """Register an arbitrary undo callback."""
        self._undo.append(fn)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def __len__(self) -> int:
        return len(self._undo)


@dataclass(frozen=True)
class ReductionEvent:
    """One reduction during a forward: inside block ``block``, ``n_before`` -> ``n_after`` tokens."""

    block: int
    kind: str
    n_before: int
    n_after: int


@dataclass
class Run:
    """What an application did during the most recent forward pass(es).

    ``tokens[stage]`` is the list of token counts after every block of that stage (e.g.
    ``"vit"``, ``"llm"``, ``"vision"``), for the last forward that reset the record.
    ``sources`` (when ``record_sources``) maps stage to a ``[B, N_kept, N_in]`` 0/1 (or
    size-weighted) tensor telling which input tokens each surviving token stands for.
    ``kept_indices[stage]`` holds, per reduction event, a ``[B, K]`` index tensor into the
    tokens entering that event (for each surviving token: itself or the token it was merged
    into) when ``record_indices`` is set. ``events[stage]`` lists the reductions
    (:class:`ReductionEvent`).
    """

    record_sources: bool = False
    record_indices: bool = False
    tokens: dict[str, list[int]] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    kept_indices: dict[str, list[Any]] = field(default_factory=dict)
    input_tokens: dict[str, int] = field(default_factory=dict)
    events: dict[str, list["ReductionEvent"]] = field(default_factory=dict)

    def start(self, stage: str, n_input_tokens: int) -> None:
        """Begin recording a new forward of ``stage`` (clears that stage's record)."""
        self.tokens[stage] = []
        self.input_tokens[stage] = int(n_input_tokens)
        self.sources.pop(stage, None)
        self.kept_indices[stage] = []
        self.events[stage] = []

    def log(self, stage: str, n_tokens: int) -> None:
        """Append the token count after one block of ``stage``."""
        self.tokens.setdefault(stage, []).append(int(n_tokens))

    def log_event(self, stage: str, block: int, kind: str, n_before: int, n_after: int) -> None:
        """Record one reduction (``kind``: "merge", "prune", ...) inside block ``block`` of ``stage``."""
        self.events.setdefault(stage, []).append(ReductionEvent(block, kind, int(n_before), int(n_after)))

    def schedule(self, stage: str) -> list[int]:
        """Token counts entering each block of ``stage``: ``[N_in, after block 0, ...]`` minus the last."""
        if stage not in self.tokens:
            raise KeyError(f"no record for stage {stage!r}; recorded stages: {sorted(self.tokens)}")
        counts = [self.input_tokens[stage], *self.tokens[stage]]
        return counts[:-1] if len(counts) > 1 else counts


@dataclass
class Method:
    """Base class of every method. Subclasses are ``@dataclass``es with validated fields.

    Class attributes to set: ``id`` (catalog id), ``arxiv`` (versionless arXiv id or ""),
    ``families`` (adapter names it supports), ``placement`` (a ``zoo.vocab.PLACEMENT``
    key), ``paper_notation`` (paper symbol -> how it maps onto the fields).
    """

    id: ClassVar[str] = ""
    arxiv: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = ()
    placement: ClassVar[str] = ""
    paper_notation: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check parameter values on their own; raise ``ValueError`` naming field and allowed range."""

    def check_model(self, adapter: Any) -> None:
        """Check parameters against the model (e.g. a layer index past the depth)."""

    def install(self, adapter: Any, patch: Patch, run: Run) -> None:
        """Install the method on ``adapter.model``, recording every change in ``patch``."""
        raise NotImplementedError(f"{type(self).__name__}.install is not implemented")

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fail(field_name: str, value: Any, allowed: str, method: str) -> None:
    raise ValueError(f"{method}: invalid {field_name}={value!r}; allowed: {allowed}")


def check_ratio(method: Method, name: str, value: float, *, allow_zero: bool = False) -> None:
    """Validate a ratio field: ``0 < value <= 1`` (or ``0 <= value`` when ``allow_zero``)."""
    low_ok = value >= 0 if allow_zero else value > 0
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (low_ok and value <= 1):
        _fail(name, value, ("0 <= " if allow_zero else "0 < ") + f"{name} <= 1", method.id)


def check_layer(method: Method, name: str, value: int, depth: int) -> None:
    """Validate a block index against a model depth: ``0 <= value < depth``."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < depth:
        _fail(name, value, f"an integer block index 0..{depth - 1} (the model has {depth} blocks)", method.id)


def check_int(method: Method, name: str, value: Any, *, low: int = 0, high: int | None = None) -> None:
    """Validate an integer field: ``low <= value`` (and ``<= high`` when given)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
    if not ok:
        _fail(name, value, f"an integer >= {low}" + ("" if high is None else f" and <= {high}"), method.id)


def check_number(method: Method, name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> None:
    """Validate a real-valued field within ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" <= {high}"
        _fail(name, value, f"a number {lo}{name}{hi}", method.id)


def check_choice(method: Method, name: str, value: Any, choices: tuple[Any, ...]) -> None:
    """Validate a field taking one of ``choices``."""
    if value not in choices:
        _fail(name, value, "one of " + ", ".join(repr(c) for c in choices), method.id)


def check_budget(method: Method, keep_ratio: Any, keep_tokens: Any, *, others: dict[str, Any] | None = None) -> None:
    """At most one budget among ``keep_ratio``, ``keep_tokens`` and the paper's own parameters in
    ``others`` (name -> value, ``None`` = not given); validates ``keep_ratio``/``keep_tokens``."""
    given = {"keep_ratio": keep_ratio, "keep_tokens": keep_tokens, **(others or {})}
    set_names = [k for k, v in given.items() if v is not None]
    if len(set_names) > 1:
        raise ValueError(f"{method.id}: give one budget, not {' and '.join(set_names)}; "
                         f"allowed: one of {', '.join(given)}")
    if keep_ratio is not None:
        check_ratio(method, "keep_ratio", keep_ratio)
    if keep_tokens is not None:
        check_int(method, "keep_tokens", keep_tokens, low=1)


def method_class(method_id: str) -> type[Method]:
    """Return the class registered under ``method_id`` (imports its module)."""
    from zoo.papers import REGISTRY

    if method_id not in REGISTRY:
        import difflib

        close = difflib.get_close_matches(method_id, list(REGISTRY), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown method {method_id!r}.{hint} Registered: {', '.join(sorted(REGISTRY))}")
    module_name, _, class_name = REGISTRY[method_id].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if cls.id != method_id:
        raise RuntimeError(f"registry entry {method_id!r} points at {cls.__name__} whose id is {cls.id!r}")
    return cls


@dataclass(frozen=True)
class MethodInfo:
    id: str
    arxiv: str
    families: tuple[str, ...]
    placement: str
    params: dict[str, str]
    paper_notation: dict[str, str]
    summary: str


def methods() -> list[MethodInfo]:
    """Everything registered: id, paper, supported families, placement, parameters with defaults."""
    from zoo.papers import REGISTRY

    infos = []
    for method_id in REGISTRY:
        cls = method_class(method_id)
        try:  # effective defaults (validate() may resolve e.g. r=None to the paper's default)
            resolved = cls().params()
        except Exception:
            resolved = {}
        params = {}
        for f in dataclasses.fields(cls):
            if f.name in resolved:
                params[f.name] = repr(resolved[f.name])
            elif f.default is not dataclasses.MISSING:
                params[f.name] = repr(f.default)
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                params[f.name] = repr(f.default_factory())  # type: ignore[misc]
            else:
                params[f.name] = "(required)"
        doc = (cls.__doc__ or "").strip().splitlines()
        infos.append(
            MethodInfo(method_id, cls.arxiv, tuple(cls.families), cls.placement, params,
                       dict(cls.paper_notation), doc[0] if doc else "")
        )
    return infos


class Handle:
    """An applied set of methods. Use as a context manager or call ``remove()``."""

    def __init__(self, model: Any, adapter: Any, methods: list[Method], patch: Patch, run: Run) -> None:
        self.model = model
        self.adapter = adapter
        self.methods = methods
        self.run = run
        self._patch = patch
        self._in_with = False

    @property
    def active(self) -> bool:
        return len(self._patch) > 0

    def remove(self) -> None:
        """Undo every change; safe to call twice."""
        self._patch.undo()

    def _reinstall(self) -> None:
        """Install the same methods again (after a failed replacement removed them), through a
        fresh adapter (adapters hold per-application state)."""
        from zoo.families import detect

        adapter = detect(self.model)
        patch = Patch()
        try:
            for m in self.methods:
                m.install(adapter, patch, self.run)
            patch.set_attr(self.model, _HANDLE_ATTR, self)
        except BaseException:
            patch.undo()
            raise
        self.adapter, self._patch = adapter, patch

    def describe(self) -> str:
        return ", ".join(f"{m.id}({', '.join(f'{k}={v!r}' for k, v in m.params().items())})" for m in self.methods)

    def __enter__(self) -> "Handle":
        self._in_with = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self._in_with = False
        self.remove()

    def __repr__(self) -> str:
        return f"<tokzoo Handle {'active' if self.active else 'removed'}: {self.describe()}>"


def _build(spec: Any, params: dict[str, Any]) -> Method:
    if isinstance(spec, Method):
        if params:
            raise TypeError("pass parameters either to the Method instance or to apply(), not both")
        return spec
    if isinstance(spec, str):
        cls = method_class(spec)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise TypeError(f"{spec}: unknown parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
        return cls(**params)
    raise TypeError(f"expected a method id (str) or a Method instance, got {type(spec).__name__}")


def apply(model: Any, *specs: Any, record_sources: bool = False, record_indices: bool = False,
          **params: Any) -> Handle:
    """Apply one or more methods to ``model``; returns a :class:`Handle`.

    ``zoo.apply(model, "tome", r=16)`` or ``zoo.apply(model, ToMe(r=16), FastV(k=2))``.
    Keyword parameters go to a single method given by id.

    Applications never stack:

    - Applying to a model whose active handle was created by a plain call (not a ``with``
      block) replaces that handle (re-running a notebook cell is idempotent).
    - Applying inside a ``with zoo.apply(...)`` block of the same model is refused with a
      ``RuntimeError``: it would silently switch the outer block's method off. Compose methods
      acting at different places in one call instead.
    - If applying fails (bad parameters, a model the method cannot serve, an error while
      installing), the model is left exactly as it was: a handle that was active stays active.
    """
    from zoo.families import detect

    if not specs:
        raise TypeError("apply() needs at least one method id or Method instance")
    if params and len(specs) > 1:
        raise TypeError("keyword parameters are only allowed with a single method id; pass Method instances to compose")
    built = [_build(s, params) for s in specs]

    previous = model.__dict__.get(_HANDLE_ATTR) if hasattr(model, "__dict__") else None
    if previous is not None and previous.active and previous._in_with:
        raise RuntimeError(
            f"{type(model).__name__} already has tokzoo methods applied in an enclosing `with zoo.apply(...)` "
            f"block ({previous.describe()}); nested applications are refused because they would switch the "
            "outer one off. Leave that block first, or compose methods acting at different places in one call: "
            "zoo.apply(model, MethodA(...), MethodB(...))")

    adapter = detect(model)
    for m in built:
        if adapter.name not in m.families:
            why = getattr(adapter, "unsupported_reason", lambda method: "")(m)
            raise TypeError(
                f"{m.id} does not support the model family {adapter.name!r}; it supports: {', '.join(m.families)}"
                + (f" ({why})" if why else "")
            )
        m.check_model(adapter)
    placements = [m.placement for m in built]
    if len(set(placements)) != len(placements):
        raise ValueError(f"methods {', '.join(m.id for m in built)} act at the same place ({placements}); "
                         "compose only methods acting at different places")

    had_previous = previous is not None and previous.active
    if had_previous:
        previous.remove()
    run = Run(record_sources=record_sources, record_indices=record_indices)
    patch = Patch()
    try:
        for m in built:
            m.install(adapter, patch, run)
        handle = Handle(model, adapter, built, patch, run)
        patch.set_attr(model, _HANDLE_ATTR, handle)
    except BaseException:
        patch.undo()
        if had_previous:
            previous._reinstall()
        raise
    return handle
