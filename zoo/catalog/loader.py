"""Find and load ``catalog.yaml`` with line-numbered errors and a parse cache.

Where the catalog comes from, first match wins:

1. the ``path`` argument (the CLI's ``--catalog``);
2. the ``TOKZOO_CATALOG`` environment variable;
3. ``catalog.yaml`` at the root of a source checkout (next to ``pyproject.toml``, one level
   above the ``zoo`` package);
4. the copy packaged into the wheel (``zoo/data/catalog.yaml``, written at build time).

A validated file is cached (see :mod:`zoo.catalog.cache`); an unchanged file loads without
parsing YAML again.
"""

from __future__ import annotations

import glob
import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

import yaml

from zoo.catalog import cache
from zoo.catalog.issues import CatalogError, Issue
from zoo.catalog.schema import CatalogFile
from zoo.catalog.validate import LineIndex, check_data, find_alias

PathLike = Union[str, "os.PathLike[str]"]
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def packaged_catalog_path() -> Path:
    """Where a built wheel carries its copy of the catalog."""
    return _PACKAGE_DIR / "data" / "catalog.yaml"


def source_catalog_path() -> Optional[Path]:
    """``catalog.yaml`` of the source checkout this package runs from, if any."""
    root = _PACKAGE_DIR.parent
    candidate = root / "catalog.yaml"
    if candidate.is_file() and (root / "pyproject.toml").is_file():
        return candidate
    return None


def default_catalog_path() -> Path:
    """The catalog used when no path is given (see the module docstring for the order)."""
    env = os.environ.get("TOKZOO_CATALOG")
    if env:
        return Path(env)
    source = source_catalog_path()
    if source is not None:
        return source
    packaged = packaged_catalog_path()
    if packaged.is_file():
        return packaged
    raise FileNotFoundError(
        "no catalog found: pass --catalog FILE or set TOKZOO_CATALOG, or run from a tokzoo "
        f"source checkout (looked for {_PACKAGE_DIR.parent / 'catalog.yaml'} and {packaged})"
    )


TEMP_SUFFIX = ".tmp"
_STALE_AFTER_S = 24 * 3600.0  # a temporary file this old is stale even if its pid is alive (pid reuse)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temp_files(path: PathLike) -> list[Path]:
    """Delete ``.<name>.<pid>.<random>.tmp`` files that killed writers of ``path`` left behind.

    A temporary file belongs to a live writer while its pid runs (and it is younger than a day);
    files of dead processes, and pid-less ones of older tokzoo versions older than a minute, are
    removed. Returns what was removed."""
    target = Path(path)
    removed: list[Path] = []
    now = time.time()
    try:
        candidates = list(target.parent.glob(f".{glob.escape(target.name)}.*{TEMP_SUFFIX}"))
    except OSError:
        return removed
    for tmp in candidates:
        middle = tmp.name[len(target.name) + 2:-len(TEMP_SUFFIX)]
        pid_text = middle.split(".", 1)[0]
        try:
            age = now - tmp.stat().st_mtime
        except OSError:
            continue
        if pid_text.isdigit() and "." in middle:
            stale = int(pid_text) != os.getpid() and (not _pid_alive(int(pid_text)) or age > _STALE_AFTER_S)
        else:
            stale = age > 60.0
        if stale:
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


@contextmanager
def _sigint_deferred(what: str) -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) while ``what`` is written and replaced: the replace then either
    happens completely or not at all, and a command never reports failure after it happened.
    An interrupt that arrives meanwhile is reported once the write is complete."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except (ValueError, OSError):  # not allowed here (embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            sys.stderr.write(f"note: interrupt received while writing {what}; the write was completed first\n")


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder + ``os.replace``).

    The temporary file is ``.<name>.<pid>.<random>.tmp`` (git-ignored); stale ones that killed
    writers left are removed first (:func:`remove_stale_temp_files`). Ctrl-C is held back during
    the write and replace (:func:`_sigint_deferred`)."""
    target = Path(path)
    remove_stale_temp_files(target)
    with _sigint_deferred(str(target)):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def _yaml_issue(file: str, exc: yaml.YAMLError) -> Issue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = str(getattr(exc, "problem", None) or exc)[:300]
    context = str(getattr(exc, "context", None) or "")[:200] or None
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return Issue(file=file, line=(mark.line + 1) if mark is not None else None, message=message)


def validate_text(text: str, file: str = "catalog.yaml") -> tuple[Optional[CatalogFile], list[Issue]]:
    """Parse and fully check catalog text (line numbers, duplicate keys). Never raises for bad input."""
    loader = _SAFE_LOADER(text)
    try:
        root = loader.get_single_node()  # one parse gives both the nodes (for lines) and the data
        alias_line = find_alias(root)
        if alias_line is not None:
            return None, [Issue(file=file, line=alias_line, message=(
                "YAML anchors and aliases (&name / *name) are not allowed in the catalog: write every value out "
                "(an alias can expand a few hundred bytes into billions of values); this node is reused by an alias"))]
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        return None, [_yaml_issue(file, exc)]
    finally:
        loader.dispose()
    return check_data(data, file, LineIndex(root))


def validate_file(path: Optional[PathLike] = None) -> tuple[Optional[CatalogFile], list[Issue]]:
    """Like :func:`validate_text` for a file (default: :func:`default_catalog_path`)."""
    target = Path(path) if path is not None else default_catalog_path()
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Issue(file=str(target), line=None, message=f"cannot read the catalog: {exc}")]
    return validate_text(text, str(target))


def load_catalog_file(path: Optional[PathLike] = None) -> tuple[Path, CatalogFile]:
    """Load and validate a catalog file; raises :class:`CatalogError` listing every problem."""
    target = Path(path) if path is not None else default_catalog_path()
    try:
        raw = target.read_bytes()
    except OSError as exc:
        raise CatalogError(str(target), [Issue(file=str(target), line=None, message=f"cannot read the catalog: {exc}")]) from None
    digest = hashlib.sha256(raw).hexdigest()
    cached = cache.read(target, digest)
    if cached is not None:
        return target, cached
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(str(target), [Issue(file=str(target), line=None, message=f"not UTF-8: {exc}")]) from None
    parsed, issues = validate_text(text, str(target))
    if parsed is None:
        raise CatalogError(str(target), issues)
    cache.write(target, digest, parsed)
    return target, parsed
