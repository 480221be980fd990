"""A file lock around read-modify-write of ``catalog.yaml``, so concurrent edits never lose one.

``tokzoo add``, ``sync``, ``new-method`` and the merge tools read the catalog, build a new
text and replace the file. Two such commands at the same time would both read the same old
text, and the second replace would drop the first one's entry. ``catalog_lock(path)`` makes
them take turns: it holds an exclusive lock on ``.<name>.lock`` next to the catalog (``flock``
on POSIX, ``msvcrt.locking`` on Windows) for the whole read-modify-write, waiting up to
``timeout`` seconds for another holder. The lock is re-entrant within a thread, so a command
holding it may call helpers that take it again.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_TIMEOUT = 60.0
_POLL = 0.05


class CatalogLocked(RuntimeError):
    """Another process kept the catalog locked for longer than the timeout."""


class _Held:
    def __init__(self) -> None:
        self.rlock = threading.RLock()
        self.depth = 0
        self.fd: int = -1


_registry: dict[str, _Held] = {}
_registry_lock = threading.Lock()


def lock_path(path: Union[str, Path]) -> Path:
    """The lock file of catalog ``path``: ``.<name>.lock`` in the same folder (git-ignored)."""
    target = Path(path).resolve()
    return target.with_name(f".{target.name}.lock")


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
    import msvcrt  # pragma: no cover - Windows

    try:  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:  # pragma: no cover
        return False


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


@contextmanager
def catalog_lock(path: Union[str, Path], timeout: float = DEFAULT_TIMEOUT) -> Iterator[Path]:
    """Hold the catalog's lock for the ``with`` block; raises :class:`CatalogLocked` after ``timeout`` s."""
    lock = lock_path(path)
    key = str(lock)
    with _registry_lock:
        held = _registry.setdefault(key, _Held())
    deadline = time.monotonic() + timeout
    if not held.rlock.acquire(timeout=max(timeout, 0.0)):
        raise CatalogLocked(f"another thread kept {path} locked for {timeout:g} s; try again when it has finished")
    try:
        if held.depth == 0:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise CatalogLocked(
                        f"another tokzoo command is editing {path} (lock {lock}); waited {timeout:g} s. "
                        "Try again when it has finished.")
                time.sleep(_POLL)
            held.fd = fd
        held.depth += 1
        try:
            yield lock
        finally:
            held.depth -= 1
            if held.depth == 0:
                fd, held.fd = held.fd, -1
                try:
                    _unlock(fd)
                finally:
                    os.close(fd)
    finally:
        held.rlock.release()
