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

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Optional, Union

import yaml

from zoo.catalog import cache
from zoo.catalog.issues import CatalogError, Issue
from zoo.catalog.schema import CatalogFile
from zoo.catalog.validate import LineIndex, check_data

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


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder + ``os.replace``)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return Issue(file=file, line=(mark.line + 1) if mark is not None else None, message=message)


def validate_text(text: str, file: str = "catalog.yaml") -> tuple[Optional[CatalogFile], list[Issue]]:
    """Parse and fully check catalog text (line numbers, duplicate keys). Never raises for bad input."""
    loader = _SAFE_LOADER(text)
    try:
        root = loader.get_single_node()  # one parse gives both the nodes (for lines) and the data
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
