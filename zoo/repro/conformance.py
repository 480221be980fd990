"""Conformance claims: tokzoo's method against the authors' own code, on identical random weights.

A conformance claim (kind ``conformance``) runs tokzoo's implementation and the official one
side by side on the same randomly initialised model and the same input, and reports the
largest absolute difference of their outputs (``reported=0``, ``direction="lower"``, the
tolerance of the dtype) plus yes/no checks (``kept indices equal``). Its record carries the
reference (repository and commit, or package and version), the dtype and every difference.

Where the reference comes from (a need of the claim, see :mod:`zoo.repro.spec`):

- ``official:<owner>/<repo>@<commit>``: a local checkout of the authors' repository at the
  pinned commit. Give it with ``tokzoo repro <id> --official PATH`` (one repository in the
  run), ``--official owner/repo=PATH`` (several), or env ``TOKZOO_OFFICIAL_<OWNER>_<REPO>``
  (non-alphanumerics as ``_``, upper case), e.g.::

      git clone https://github.com/facebookresearch/ToMe /tmp/official/ToMe
      git -C /tmp/official/ToMe checkout af95e4b
      tokzoo repro tome --kind conformance --official /tmp/official/ToMe

  A git checkout at another commit is refused (the claim is skipped, saying which commit it
  needs); a folder without git metadata (an exported archive) is used and recorded as
  ``commit_verified: false``. tokzoo never copies or vendors the official code.
- ``package:<distribution>``: the authors' code as an installed package (e.g. ``tomesd``): the
  claim runs wherever the package is installed.

Declaring a claim (light: nothing heavy is imported until it runs)::

    TOME = Official("facebookresearch/ToMe", "af95e4b")
    conformance_claim("conformance-tome-float64", method="tome", params={"r": 8},
                      official=TOME, where="tome/patch/timm.py apply_patch",
                      compare="zoo.repro.harness.conformance_vit:tome", dtype="float64")

``compare`` names a function ``(ctx, reference, params, dtype) -> Measurement``; it builds
the result with :func:`measurement`. :mod:`zoo.repro.harness.official` has the shared
pieces (importing a checkout without leaking its modules, differences, index checks).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from zoo.repro.spec import OFFICIAL_NEED, Claim, Measurement, Source, Unavailable

#: default tolerance on the largest absolute output difference, per dtype
DTYPE_TOLERANCE: dict[str, float] = {"float64": 1e-10, "float32": 1e-4, "bfloat16": 5e-2, "float16": 1e-2}
UNIT = "max |diff|"


@dataclass(frozen=True)
class Official:
    """The authors' repository at a pinned commit (``repo`` = ``owner/name``)."""

    repo: str
    commit: str

    def __post_init__(self) -> None:
        if not OFFICIAL_NEED.match(self.need):
            raise ValueError(f"Official({self.repo!r}, {self.commit!r}): need owner/name and a 7-40 digit "
                             "lower-case hex commit")

    @property
    def need(self) -> str:
        return f"official:{self.repo}@{self.commit}"

    @classmethod
    def parse(cls, text: str) -> "Official":
        """``official:owner/name@commit`` or ``owner/name@commit``."""
        m = OFFICIAL_NEED.match(text if text.startswith("official:") else f"official:{text}")
        if not m:
            raise ValueError(f"{text!r}: expected owner/name@commit")
        return cls(m["repo"], m["commit"])

    @property
    def env_var(self) -> str:
        return "TOKZOO_OFFICIAL_" + "".join(ch if ch.isalnum() else "_" for ch in self.repo).upper()

    def url(self, path: str = "") -> str:
        tail = f"/blob/{self.commit}/{path}" if path else f"/tree/{self.commit}"
        return f"https://github.com/{self.repo}{tail}"

    def source(self, path: str, where: str) -> Source:
        """The claim's :class:`Source`: the official file at the pinned commit."""
        return Source(f"github.com/{self.repo} {path}@{self.commit}", where, self.url(path))


@dataclass(frozen=True)
class Reference:
    """What a comparison ran against: a checkout (``path``) or an installed package (``version``)."""

    kind: str  # "checkout" | "package"
    name: str  # owner/name or distribution name
    path: Optional[Path] = None
    commit: str = ""  # pinned commit (checkout)
    head: str = ""  # commit found in the checkout ("" when it has no git metadata)
    version: str = ""  # package version
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def commit_verified(self) -> bool:
        return bool(self.head) and self.head.startswith(self.commit)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "package":
            return {"package": self.name, "version": self.version, **self.extra}
        return {"repository": self.name, "commit": self.commit, "head": self.head,
                "commit_verified": self.commit_verified, "path": str(self.path), **self.extra}


def _git_head(path: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    # only the checkout's own repository counts (not a parent repository the folder sits in)
    top = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                         timeout=10)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != path.resolve():
        return ""
    return out.stdout.strip()


def official_path(official: Official, given: Mapping[str, str]) -> Optional[str]:
    """The local checkout given for ``official``: ``given[repo]``, a bare ``--official PATH``
    (``given[""]``), or the env var; ``None`` when none was given."""
    for key in (official.repo, official.repo.lower()):
        if given.get(key):
            return given[key]
    return given.get("") or os.environ.get(official.env_var) or None


def resolve_checkout(official: Official, given: Mapping[str, str]) -> Reference:
    """The checkout for ``official`` as a :class:`Reference`; :class:`Unavailable` (the claim is
    skipped) when none was given, it does not exist, or it is a git checkout at another commit."""
    path = official_path(official, given)
    wanted = f"official checkout {official.repo}@{official.commit} (--official PATH or {official.env_var})"
    if not path:
        raise Unavailable(wanted)
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise Unavailable(f"{wanted}: {folder} is not a folder")
    head = _git_head(folder)
    if head and not head.startswith(official.commit):
        raise Unavailable(f"{wanted}: {folder} is at {head[:12]}; run git -C {folder} checkout {official.commit}")
    return Reference("checkout", official.repo, path=folder.resolve(), commit=official.commit, head=head)


def resolve_package(distribution: str) -> Reference:
    """An installed distribution as a :class:`Reference` (:class:`Unavailable` when missing)."""
    from importlib import metadata

    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise Unavailable(f"package {distribution} (pip install {distribution})") from None
    return Reference("package", distribution, version=version)


def package_installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed and its top-level module can be found (a package
    whose import is blocked or broken here counts as missing)."""
    import importlib.util
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    top = (dist.read_text("top_level.txt") or "").split() or [distribution.replace("-", "_")]
    try:
        return importlib.util.find_spec(top[0]) is not None
    except (ImportError, ValueError):
        return False


def measurement(reference: Reference, dtype: str, *, differences: Mapping[str, float],
                kept_equal: Mapping[str, bool] | None = None, details: Mapping[str, Any] | None = None,
                label: str = "") -> Measurement:
    """A conformance :class:`Measurement`: value = the largest of ``differences`` (max |ours - theirs|
    per compared output); ``kept_equal``: named yes/no checks that the kept tokens agree (e.g.
    ``{"same kept indices": True}``), each a check of the record; reference and dtype in details."""
    if not differences:
        raise ValueError("conformance measurement: no output compared")
    value = max(float(v) for v in differences.values())
    checks = {name: bool(ok) for name, ok in (kept_equal or {}).items()}
    out = {"reference": reference.to_dict(), "dtype": dtype, "max_abs_diff": {k: float(v) for k, v in differences.items()},
           "kept_tokens_equal": checks, **dict(details or {})}
    return Measurement(value, details=out, checks=checks, label=label or f"cpu, random weights, {dtype}")


def _resolve_compare(compare: Union[str, Callable[..., Measurement]]) -> Callable[..., Measurement]:
    if callable(compare):
        return compare
    module, _, name = compare.partition(":")
    if not module or not name:
        raise ValueError(f"compare={compare!r}: expected 'package.module:function'")
    return getattr(importlib.import_module(module), name)


_CLAIM_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def conformance_claim(id: str, *, method: str, params: dict[str, Any], where: str,
                      compare: Union[str, Callable[..., Measurement]], official: Optional[Official] = None,
                      package: str = "", path: str = "", dtype: str = "float64", tolerance: Optional[float] = None,
                      description: str = "", setting: Optional[dict[str, Any]] = None,
                      needs: tuple[str, ...] = ("cpu",), on_demand: bool = False,
                      known_deviation: str = "") -> Claim:
    """A ``conformance`` :class:`Claim` against ``official`` (a checkout) or ``package`` (installed).

    ``path``/``where``: the official file and function compared against (the claim's source).
    ``compare`` is called as ``compare(ctx, reference, params, dtype)``.
    """
    if (official is None) == (not package):
        raise ValueError(f"conformance claim {id!r}: give exactly one of official=Official(...) or package='name'")
    if dtype not in DTYPE_TOLERANCE:
        raise ValueError(f"conformance claim {id!r}: dtype={dtype!r}; allowed: {', '.join(DTYPE_TOLERANCE)}")
    tol = DTYPE_TOLERANCE[dtype] if tolerance is None else float(tolerance)
    if official is not None:
        source = official.source(path or ".", where)
        ref_need = official.need
    else:
        source = Source(f"PyPI {package} ({path or 'package'})", where, f"https://pypi.org/project/{package}/")
        ref_need = f"package:{package}"

    def measure(ctx) -> Measurement:
        reference = (resolve_checkout(official, ctx.options.official) if official is not None
                     else resolve_package(package))
        return _resolve_compare(compare)(ctx, reference, dict(params), dtype)

    return Claim(
        id=id, kind="conformance",
        description=description or f"tokzoo's {method} vs the authors' code on identical random weights ({dtype})",
        reported=0.0, unit=UNIT, tolerance=tol, direction="lower",
        setting={"reference": official.need if official else f"package:{package}", "dtype": dtype,
                 "weights": "random (identical for both)", "metric": "largest |tokzoo - official| over the "
                 "compared outputs; kept indices must be equal",
                 "harness": compare if isinstance(compare, str) else getattr(compare, "__qualname__", str(compare)),
                 **(setting or {})},
        source=source, measure=measure, needs=tuple(dict.fromkeys((*needs, ref_need))), method=method,
        params=dict(params), on_demand=on_demand, known_deviation=known_deviation,
    )


__all__ = ["Official", "Reference", "DTYPE_TOLERANCE", "UNIT", "conformance_claim", "measurement",
           "official_path", "resolve_checkout", "resolve_package", "package_installed"]
