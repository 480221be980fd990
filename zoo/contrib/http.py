"""Bounded HTTP reads for the metadata clients (arXiv, Hugging Face Papers).

A metadata answer is a few kilobytes. Whatever a server sends, a read here stops at
``max_bytes`` of *decompressed* data (a gzip answer that expands to gigabytes is cut off
after a few megabytes, decompressed incrementally with a bounded output per step) and at
an overall ``deadline`` (checked between chunks; a blocked socket read ends after the socket
timeout), so a read whose caller gave up stops on its own instead of running on in a
background thread. Only the standard library is used.
"""

from __future__ import annotations

import time
import zlib
from typing import Callable, Optional

MAX_BYTES = 8 * 1024 * 1024
CHUNK = 64 * 1024


class ResponseTooLarge(RuntimeError):
    """The answer (after decompression) is larger than the limit."""


class ReadDeadline(TimeoutError):
    """The answer did not arrive completely before the deadline."""


def _decoder(content_encoding: Optional[str]) -> Optional["zlib._Decompress"]:
    encoding = (content_encoding or "").strip().lower()
    if encoding in {"gzip", "x-gzip"}:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    if encoding in {"", "identity"}:
        return None
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def read_bounded(read1: Callable[[int], bytes], *, content_encoding: Optional[str], max_bytes: int = MAX_BYTES,
                 deadline: Optional[float] = None, what: str = "the answer") -> bytes:
    """Read a body through ``read1(n)`` (returns up to ``n`` bytes as soon as some arrive; ``b""``
    at the end), decompressing ``gzip``/``deflate`` with at most ``max_bytes`` of output.

    ``deadline`` is a :func:`time.monotonic` value. Raises :class:`ResponseTooLarge` or
    :class:`ReadDeadline`; the caller closes the connection."""
    decoder = _decoder(content_encoding)
    out = bytearray()

    def add(data: bytes) -> None:
        out.extend(data)
        if len(out) > max_bytes:
            raise ResponseTooLarge(f"{what} is larger than {max_bytes // (1024 * 1024)} MB"
                                   + (" after decompression" if decoder is not None else "") + "; stopped reading")

    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise ReadDeadline(f"{what} did not arrive completely in time; stopped reading")
        chunk = read1(CHUNK)
        if not chunk:
            break
        if decoder is None:
            add(chunk)
            continue
        pending = chunk
        while pending:  # bounded output per step: never more than the limit in memory
            if deadline is not None and time.monotonic() > deadline:
                raise ReadDeadline(f"{what} did not arrive completely in time; stopped reading")
            add(decoder.decompress(pending, max_bytes + 1 - len(out)))
            pending = decoder.unconsumed_tail
            if decoder.eof and decoder.unused_data:  # the next member of a multi-member gzip stream
                pending = decoder.unused_data
                decoder = _decoder(content_encoding)
    if decoder is not None:
        add(decoder.flush())
    return bytes(out)


def get(url: str, *, timeout: float, deadline_s: float, max_bytes: int = MAX_BYTES,
        headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a GET with urllib: socket ``timeout`` per operation, the
    whole read bounded by ``deadline_s`` seconds and ``max_bytes`` (decompressed). HTTP errors
    are returned as statuses, with their (bounded) body."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", **(headers or {})})
    deadline = time.monotonic() + deadline_s
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (https API endpoints)
    except urllib.error.HTTPError as exc:
        response = exc
    try:
        status = int(getattr(response, "status", None) or response.getcode())
        header_map = {k.lower(): v for k, v in response.headers.items()}
        reader = getattr(response, "read1", None) or response.read
        body = read_bounded(reader, content_encoding=header_map.get("content-encoding"), max_bytes=max_bytes,
                            deadline=deadline, what=f"the answer from {url.split('?')[0]}")
        return status, header_map, body
    finally:
        response.close()
