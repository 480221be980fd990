"""Check the catalog's links with HEAD requests (GET fallback), bounded and polite.

Each URL gets one HEAD request with a timeout; hosts that refuse HEAD (405/403/501) get a
one-byte ranged GET. Results are classified so a scheduled job can tell real rot from
noise: ``ok`` (2xx/3xx), ``broken`` (404/410: the page is gone), ``flaky`` (timeouts,
connection errors, 429, 5xx, other statuses: try again later). Only the standard library.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable

USER_AGENT = "tokzoo-link-check (scheduled catalog maintenance)"
BROKEN_STATUS = {404, 410}
HEAD_REFUSED = {403, 405, 501}


@dataclass(frozen=True)
class LinkResult:
    url: str
    outcome: str  # ok | broken | flaky
    detail: str
    papers: tuple[str, ...] = ()


def _open(url: str, method: str, timeout: float) -> int:
    headers = {"User-Agent": USER_AGENT}
    if method == "GET":
        headers["Range"] = "bytes=0-0"
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (catalog links are https)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def check_url(url: str, timeout: float = 10.0) -> tuple[str, str]:
    """``(outcome, detail)`` for one URL (see the module docstring)."""
    try:
        status = _open(url, "HEAD", timeout)
        if status in HEAD_REFUSED:
            status = _open(url, "GET", timeout)
    except (socket.timeout, TimeoutError):
        return "flaky", f"no answer within {timeout:g} s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return "flaky", f"no answer within {timeout:g} s"
        return "flaky", f"connection failed: {reason}"
    except (OSError, ValueError) as exc:
        return "flaky", f"{type(exc).__name__}: {exc}"
    if 200 <= status < 400:
        return "ok", f"HTTP {status}"
    if status in BROKEN_STATUS:
        return "broken", f"HTTP {status}"
    return "flaky", f"HTTP {status}"


def check_links(urls: dict[str, list[str]] | Iterable[str], *, timeout: float = 10.0, workers: int = 8) -> list[LinkResult]:
    """Check every URL once (``urls`` may map URL -> paper ids using it); results in input order."""
    mapping = urls if isinstance(urls, dict) else {u: [] for u in urls}
    order = list(mapping)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(lambda u: check_url(u, timeout), order))
    return [LinkResult(u, o, d, tuple(mapping[u])) for u, (o, d) in zip(order, outcomes)]


def catalog_links(papers: Iterable[object]) -> dict[str, list[str]]:
    """URL -> ids of the papers linking it, for every paper/code/project/other link."""
    out: dict[str, list[str]] = {}
    for paper in papers:
        links = paper.links  # type: ignore[attr-defined]
        for url in [links.paper, links.code, links.project, *links.other]:
            if url:
                out.setdefault(url, []).append(paper.id)  # type: ignore[attr-defined]
    return out
