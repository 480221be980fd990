"""Paper metadata from the Hugging Face Papers API: the second source of ``tokzoo add``.

``GET https://huggingface.co/api/papers/<arXiv id>`` answers with JSON holding the paper's
title, abstract (``summary``), authors (``authors[].name``, in order), first publication date
(``publishedAt``) and, when the authors linked them, the code repository (``githubRepo``) and
project page (``projectPage``). arXiv has no code links; this API often does. An unknown
paper is HTTP 404. Reads are bounded (:mod:`zoo.contrib.http`); only the standard library.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Optional

from zoo.contrib import http
from zoo.contrib.arxiv_ids import normalize_arxiv_id

DEFAULT_API = "https://huggingface.co/api/papers/{id}"
USER_AGENT = "tokzoo-add (paper metadata for the tokzoo catalog)"


class HFPapersUnavailable(RuntimeError):
    """Hugging Face could not be reached or did not answer usefully."""


class HFPaperNotFound(LookupError):
    """Hugging Face Papers has no page for this arXiv id."""


@dataclass(frozen=True)
class HFPaper:
    arxiv_id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    published: Optional[date]
    github: Optional[str]
    project: Optional[str]

    @property
    def page_url(self) -> str:
        return f"https://huggingface.co/papers/{self.arxiv_id}"


def _clean(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _https(url: Any) -> Optional[str]:
    """An http(s) link as https, or None for anything else (``javascript:``, empty, not a string)."""
    text = _clean(url)
    if text.startswith("http://"):
        text = "https://" + text[len("http://"):]
    return text if re.match(r"^https://[^\s\"<>\\^`{|}]+$", text) else None


def paper_from_json(payload: Any, arxiv_id: str) -> HFPaper:
    """Read one API answer; raises :class:`HFPapersUnavailable` when it is not a paper record."""
    if not isinstance(payload, dict) or not isinstance(payload.get("title"), str):
        raise HFPapersUnavailable("the Hugging Face answer is not a paper record (no title)")
    if payload.get("id") not in (None, arxiv_id):
        raise HFPapersUnavailable(f"the Hugging Face answer is for {str(payload.get('id'))[:40]!r}, not {arxiv_id}")
    authors = []
    for author in payload.get("authors") or []:
        name = _clean(author.get("name") if isinstance(author, dict) else author)
        if name:
            authors.append(name)
    published = None
    if isinstance(payload.get("publishedAt"), str):
        try:
            published = date.fromisoformat(payload["publishedAt"][:10])
        except ValueError:
            published = None
    return HFPaper(arxiv_id=arxiv_id, title=_clean(payload["title"]), abstract=_clean(payload.get("summary")),
                   authors=tuple(authors), published=published, github=_https(payload.get("githubRepo")),
                   project=_https(payload.get("projectPage")))


class HFPapersClient:
    """``fetch_one(arxiv_id)`` -> :class:`HFPaper`; ``api_url_format`` points tests at a local server."""

    def __init__(self, *, api_url_format: Optional[str] = None, timeout: float = 20.0, deadline: Optional[float] = None,
                 max_bytes: int = 2 * 1024 * 1024) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.api_url_format = api_url_format or DEFAULT_API
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline else 3 * self.timeout
        self.max_bytes = max_bytes

    def fetch_one(self, text: str) -> HFPaper:
        import urllib.error

        arxiv_id = normalize_arxiv_id(text)
        url = self.api_url_format.format(id=arxiv_id)
        try:
            status, headers, body = http.get(url, timeout=self.timeout, deadline_s=self.deadline,
                                             max_bytes=self.max_bytes, headers={"User-Agent": USER_AGENT})
        except (http.ResponseTooLarge, http.ReadDeadline, ValueError) as exc:
            raise HFPapersUnavailable(str(exc)) from None
        except urllib.error.URLError as exc:
            raise HFPapersUnavailable(f"cannot reach Hugging Face ({exc.reason}); are you offline?") from None
        except (TimeoutError, OSError) as exc:
            raise HFPapersUnavailable(f"Hugging Face did not answer within {self.timeout:g} s ({exc})") from None
        if status == 404:
            raise HFPaperNotFound(f"Hugging Face Papers has no page for {arxiv_id}")
        if status != 200:
            raise HFPapersUnavailable(f"Hugging Face answered HTTP {status} for {url}")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            kind = headers.get("content-type", "unknown type")
            raise HFPapersUnavailable(f"Hugging Face answered HTTP 200 but not with JSON ({kind}; begins "
                                      f"{body[:40]!r})") from None
        return paper_from_json(payload, arxiv_id)
