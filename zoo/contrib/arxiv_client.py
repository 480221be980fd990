"""Fetch paper metadata from arXiv through the ``arxiv`` package, safely.

The ``arxiv`` package (v4) has sharp edges that this module files off:

- a batch request fails as a whole on one malformed id: ids are checked locally first
  (:mod:`zoo.contrib.arxiv_ids`) and a batch the server still rejects (HTTP 400) is split
  into single requests so that the culprit is named;
- ids arXiv does not know are silently dropped from the answer: requested and returned
  ids are compared and the difference is reported as ``missing``;
- there is no timeout setting, so a server that never answers hangs forever: every HTTP
  request gets a socket timeout and every batch an overall deadline; the body is read with
  a size cap on the *decompressed* data (a gzip bomb stops after a few MB) and stops at the
  deadline even when the caller has given up (no read runs on in the background);
- any HTTP 200 is taken as a feed: an answer that is not an Atom feed (a proxy's or captive
  portal's page) is reported as such, never as "no such paper";
- rate limits: requests are spaced by ``delay_seconds`` (arXiv asks for 3 s) and
  transient failures (HTTP 429/5xx, timeouts, dropped connections) are retried with
  exponential backoff; an unresolvable host (offline) fails at once.

Nothing is raised for a single bad id in a batch: :meth:`ArxivClient.fetch` returns a
:class:`FetchReport` saying which ids were found, missing, invalid or failed, and why.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable, TypeVar

from zoo.contrib.arxiv_ids import InvalidArxivId, abs_url, normalize_arxiv_id, split_version

DEFAULT_QUERY_URL = "https://export.arxiv.org/api/query?{}"
T = TypeVar("T")


class ArxivUnavailable(RuntimeError):
    """arXiv could not be reached or did not answer usefully (offline, timeout, HTTP error).

    ``unreachable`` is true when no connection could be made at all (offline, DNS, refused):
    a batch fetch then stops instead of trying the remaining batches.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class ArxivNotFound(LookupError):
    """arXiv answered but has no paper under the requested id."""


@dataclass(frozen=True)
class ArxivRecord:
    """The metadata tokzoo uses from one arXiv entry (whitespace in title/abstract collapsed)."""

    arxiv_id: str
    version: str | None
    title: str
    abstract: str
    authors: tuple[str, ...]
    published: date
    updated: date
    primary_category: str = ""
    categories: tuple[str, ...] = ()
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    @property
    def url(self) -> str:
        return abs_url(self.arxiv_id)


@dataclass
class FetchReport:
    """Outcome of a batch fetch; every requested input lands in exactly one bucket."""

    found: dict[str, ArxivRecord] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.invalid or self.failed)

    def summary(self) -> str:
        parts = [f"{len(self.found)} found"]
        if self.missing:
            parts.append(f"{len(self.missing)} unknown to arXiv ({', '.join(self.missing)})")
        if self.invalid:
            parts.append(f"{len(self.invalid)} invalid ({', '.join(self.invalid)})")
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({', '.join(self.failed)})")
        return "; ".join(parts)


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def record_from_result(result: Any) -> ArxivRecord:
    """Convert an ``arxiv.Result`` into an :class:`ArxivRecord`."""
    arxiv_id, version = split_version(result.get_short_id())
    return ArxivRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=_clean(result.title),
        abstract=_clean(result.summary),
        authors=tuple(_clean(a.name) for a in result.authors),
        published=result.published.date(),
        updated=result.updated.date(),
        primary_category=result.primary_category or "",
        categories=tuple(result.categories),
        comment=_clean(result.comment) or None,
        journal_ref=_clean(result.journal_ref) or None,
        doi=_clean(result.doi) or None,
    )


class NotAtomFeed(RuntimeError):
    """arXiv (or something in between) answered HTTP 200 with a body that is not an Atom feed."""


class ResponseLimit(RuntimeError):
    """The answer was too large or too slow (see :mod:`zoo.contrib.http`); the read was stopped."""


def _looks_like_atom(body: bytes) -> bool:
    head = body[:4096].lstrip()
    return b"http://www.w3.org/2005/Atom" in head and (head.startswith(b"<?xml") or head.startswith(b"<feed"))


def _bounded_session(timeout: float, deadline: float, max_bytes: int) -> Any:
    """A ``requests.Session`` for the ``arxiv`` package: ``timeout`` per socket operation, the body
    streamed with at most ``max_bytes`` decompressed and stopped ``deadline`` s after the request
    began, and a 200 answer that is not Atom refused (:class:`NotAtomFeed`)."""
    import requests

    from zoo.contrib import http

    class BoundedSession(requests.Session):
        def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
            kwargs.setdefault("timeout", timeout)
            kwargs["stream"] = True
            ends = time.monotonic() + deadline
            response = super().request(method, url, *args, **kwargs)
            try:
                raw = response.raw
                reader = getattr(raw, "read1", None)
                read1 = (lambda n: reader(n, decode_content=False)) if reader else (lambda n: raw.read(n, decode_content=False))
                body = http.read_bounded(read1, content_encoding=response.headers.get("Content-Encoding"),
                                         max_bytes=max_bytes, deadline=ends, what="arXiv's answer")
            except (http.ResponseTooLarge, http.ReadDeadline) as exc:
                raise ResponseLimit(str(exc)) from None
            except ValueError as exc:
                raise NotAtomFeed(f"arXiv's answer cannot be read: {exc}") from None
            finally:
                response.close()
            response._content = body
            response._content_consumed = True
            if response.status_code == 200 and not _looks_like_atom(body):
                kind = response.headers.get("Content-Type", "no Content-Type")
                raise NotAtomFeed(f"the answer from {str(url).split('?')[0]} is HTTP 200 but not an Atom feed "
                                  f"({kind}; begins {body[:60]!r}): a proxy, captive portal or outage page?")
            return response

    return BoundedSession()


def run_with_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; raise :class:`ArxivUnavailable` after ``seconds``.

    A backstop for servers that trickle bytes forever (a socket timeout only bounds each
    read). The abandoned thread is a daemon, so it never blocks interpreter exit.
    """
    box: queue.Queue = queue.Queue(maxsize=1)

    def target() -> None:
        try:
            box.put((True, fn()))
        except BaseException as exc:  # handed to the caller below
            box.put((False, exc))

    threading.Thread(target=target, name="tokzoo-arxiv", daemon=True).start()
    try:
        ok, value = box.get(timeout=seconds)
    except queue.Empty:
        raise ArxivUnavailable(f"{what}: no complete answer within {seconds:g} s") from None
    if ok:
        return value
    raise value


class ArxivClient:
    """Polite, bounded access to the arXiv API.

    ``query_url_format`` defaults to arXiv's endpoint; tests point it at a local server.
    ``timeout`` bounds every socket operation, ``deadline`` a whole request (default
    ``3 * timeout``). ``delay_seconds`` spaces requests, ``retries`` re-tries transient
    failures (backoff ``delay_seconds * 2**attempt``, at least 1 s unless delay is 0).
    """

    def __init__(
        self,
        *,
        query_url_format: str | None = None,
        timeout: float = 20.0,
        deadline: float | None = None,
        delay_seconds: float = 3.0,
        retries: int = 3,
        batch_size: int = 20,
        max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.query_url_format = query_url_format or DEFAULT_QUERY_URL
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline else 3 * self.timeout
        self.delay_seconds = float(delay_seconds)
        self.retries = int(retries)
        self.batch_size = int(batch_size)
        self.max_bytes = int(max_bytes)
        self._client: Any = None
        self._last_request = 0.0

    # -- low level ---------------------------------------------------------------------
    def _arxiv_client(self) -> Any:
        if self._client is None:
            import arxiv

            # Retries, spacing and timeouts are handled here, so the package does none.
            client = arxiv.Client(page_size=self.batch_size, delay_seconds=0.0, num_retries=0)
            client.query_url_format = self.query_url_format
            if hasattr(client, "_session"):  # arxiv 2.x-4.x keep a requests.Session here
                client._session = _bounded_session(self.timeout, self.deadline, self.max_bytes)
            self._client = client
        return self._client

    def _wait_politely(self) -> None:
        wait = self._last_request + self.delay_seconds - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

    def _query_once(self, ids: list[str]) -> list[Any]:
        import arxiv

        client = self._arxiv_client()
        search = arxiv.Search(id_list=ids, max_results=len(ids))
        self._wait_politely()
        return run_with_deadline(lambda: list(client.results(search)), self.deadline,
                                 f"arXiv request for {', '.join(ids)}")

    def _query(self, ids: list[str]) -> list[Any]:
        """One request with retries; raises ``_Rejected`` (HTTP 400) or :class:`ArxivUnavailable`."""
        attempt = 0
        while True:
            try:
                return self._query_once(ids)
            except Exception as exc:  # classified below
                kind, message = _classify(exc)
                if kind == "rejected":
                    raise _Rejected(message) from exc
                if kind == "transient" and attempt < self.retries:
                    backoff = self.delay_seconds * 2**attempt
                    time.sleep(max(backoff, 1.0) if self.delay_seconds > 0 else 0.0)
                    attempt += 1
                    continue
                tries = f" (after {attempt + 1} tries)" if attempt else ""
                raise ArxivUnavailable(f"{message}{tries}", unreachable=kind in {"offline", "unreachable"}) from exc

    # -- public ------------------------------------------------------------------------
    def fetch(self, ids: Iterable[str], *, progress: Callable[[str], None] | None = None) -> FetchReport:
        """Fetch every id (duplicates merged); never raises for a single bad id."""
        report = FetchReport()
        wanted: list[str] = []
        for text in ids:
            try:
                arxiv_id = normalize_arxiv_id(text)
            except InvalidArxivId as exc:
                report.invalid[text] = str(exc)
                continue
            if arxiv_id not in wanted:
                wanted.append(arxiv_id)
        batches = [wanted[i:i + self.batch_size] for i in range(0, len(wanted), self.batch_size)]
        for index, batch in enumerate(batches):
            if progress:
                progress(f"batch {index + 1}/{len(batches)}: {len(batch)} id(s)")
            try:
                self._fetch_batch(batch, report)
            except ArxivUnavailable as exc:
                for arxiv_id in batch:
                    report.failed[arxiv_id] = str(exc)
                if exc.unreachable:
                    for later in batches[index + 1:]:
                        for arxiv_id in later:
                            report.failed[arxiv_id] = f"not tried: {exc}"
                    break
        return report

    def _fetch_batch(self, batch: list[str], report: FetchReport) -> None:
        try:
            results = self._query(batch)
        except _Rejected as exc:
            if len(batch) == 1:
                report.invalid[batch[0]] = f"arXiv rejected the id: {exc}"
                return
            for arxiv_id in batch:  # isolate the id the server refuses
                try:
                    self._fetch_batch([arxiv_id], report)
                except ArxivUnavailable as single_exc:
                    report.failed[arxiv_id] = str(single_exc)
            return
        returned: dict[str, ArxivRecord] = {}
        for result in results:
            if "/api/errors" in (result.entry_id or ""):
                continue  # an error entry (its id is not one of ours); the comparison below reports it
            try:
                record = record_from_result(result)
            except InvalidArxivId:
                continue
            if record.title:
                returned[record.arxiv_id] = record
        for arxiv_id in batch:
            if arxiv_id in returned:
                report.found[arxiv_id] = returned[arxiv_id]
            else:
                report.missing.append(arxiv_id)

    def fetch_one(self, text: str) -> ArxivRecord:
        """Fetch one paper; raises InvalidArxivId, ArxivNotFound or ArxivUnavailable."""
        arxiv_id = normalize_arxiv_id(text)
        report = self.fetch([arxiv_id])
        if arxiv_id in report.found:
            return report.found[arxiv_id]
        if arxiv_id in report.invalid:
            raise InvalidArxivId(text, report.invalid[arxiv_id])
        if arxiv_id in report.failed:
            raise ArxivUnavailable(report.failed[arxiv_id])
        raise ArxivNotFound(f"arXiv has no paper with id {arxiv_id} ({abs_url(arxiv_id)})")


class _Rejected(Exception):
    """The server refused the request as malformed (HTTP 400)."""


def _classify(exc: BaseException) -> tuple[str, str]:
    """Return ``(kind, message)``; kind in rejected | transient | offline | unreachable | fatal."""
    import arxiv
    import requests

    if isinstance(exc, arxiv.HTTPError):
        if exc.status == 400:
            return "rejected", f"HTTP 400 from {exc.url}"
        kind = "transient" if exc.status == 429 or exc.status >= 500 else "fatal"
        return kind, f"arXiv answered HTTP {exc.status} ({exc.url})"
    if isinstance(exc, ArxivUnavailable):  # the overall deadline
        return "transient", str(exc)
    if isinstance(exc, NotAtomFeed):
        return "fatal", str(exc)
    if isinstance(exc, ResponseLimit):
        return "fatal", str(exc)
    if isinstance(exc, requests.exceptions.Timeout):
        return "transient", f"arXiv did not answer within the {type(exc).__name__} limit: {exc}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if any(s in text for s in ("NameResolutionError", "Failed to resolve", "Name or service not known",
                                    "Temporary failure in name resolution", "nodename nor servname")):
            return "offline", f"cannot reach arXiv (are you offline?): {_short(text)}"
        if "Connection refused" in text or "Errno 111" in text:
            return "unreachable", f"arXiv refused the connection: {_short(text)}"
        return "transient", f"connection to arXiv failed: {_short(text)}"
    if isinstance(exc, arxiv.ArxivError):
        return "transient", str(exc)
    return "fatal", f"{type(exc).__name__}: {exc}"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
