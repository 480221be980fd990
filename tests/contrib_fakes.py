"""A local stand-in for the arXiv query API, serving the recordings in tests/data/arxiv/.

Used by tests/test_contrib*.py through the real ``arxiv`` client
(``Client.query_url_format`` pointed at ``http://127.0.0.1:<port>/api/query?{}``).

Behaviour (see tests/data/arxiv/README.md):
- ``id_list`` with recorded ids: one feed with their entries; unknown ids are left out
  (arXiv drops them silently); nothing recorded at all: ``empty.xml``;
- ``reject``: ids answered with HTTP 400 and the recorded error feed;
- ``unavailable``: ids whose request is answered with HTTP 503 (for failures mid-batch);
- ``hang_seconds``: sleep before answering (for timeouts);
- ``mode`` (hostile servers, for the hardening tests): ``"gzip-bomb"`` answers 200 with a small
  gzip body that expands to :data:`BOMB_BYTES`; ``"html-200"`` answers 200 with an HTML page;
  ``"trickle"`` sends one byte every 0.05 s for ever, and records in ``closed_after`` when the
  client hung up.
Every request's ``id_list`` is appended to ``requests`` so tests can check what was sent.

``FakeHF`` does the same for the Hugging Face Papers API (tests/data/hf_papers/).
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

DATA = Path(__file__).parent / "data" / "arxiv"
HF_DATA = Path(__file__).parent / "data" / "hf_papers"
_ENTRY = re.compile(r"  <entry>.*?</entry>\n", re.DOTALL)
BOMB_BYTES = 1 << 30  # 1 GiB of zeros once decompressed
HTML_PAGE = ("<!DOCTYPE html><html><head><title>Network login</title></head>"
             "<body><p>Sign in to continue to the internet.</p></body></html>")
_bomb: list[bytes] = []


def gzip_bomb() -> bytes:
    """A gzip stream of :data:`BOMB_BYTES` zeros, about 1 MB on the wire: 1024 gzip members of
    1 MiB of zeros each (a valid gzip file; HTTP clients decompress every member)."""
    if not _bomb:
        import gzip

        member = gzip.compress(bytes(1 << 20), compresslevel=9)
        _bomb.append(member * (BOMB_BYTES >> 20))
    return _bomb[0]


def _hostile(handler: BaseHTTPRequestHandler, mode: str, fake: "object") -> bool:
    """Answer in a hostile ``mode``; True when it did."""
    try:
        if mode == "gzip-bomb":
            data = gzip_bomb()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/atom+xml")
            handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return True
        if mode == "html-200":
            data = HTML_PAGE.encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return True
        if mode == "trickle":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/atom+xml")
            handler.send_header("Content-Length", str(10 ** 9))
            handler.end_headers()
            start = time.monotonic()
            while time.monotonic() - start < 30:
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.05)
            return True
    except (BrokenPipeError, ConnectionResetError):
        fake.closed_after = time.monotonic()  # type: ignore[attr-defined]
        return True
    return False


def recorded_entry(arxiv_id: str) -> str | None:
    path = DATA / f"{arxiv_id}.xml"
    if not path.is_file():
        return None
    match = _ENTRY.search(path.read_text(encoding="utf-8"))
    assert match, f"{path} has no <entry>"
    return match.group(0)


def batch_feed(ids: list[str]) -> str:
    """A feed holding the recorded entries of ``ids`` (unknown ids silently left out)."""
    entries = [e for e in (recorded_entry(i) for i in ids) if e]
    if not entries:
        return (DATA / "empty.xml").read_text(encoding="utf-8")
    template = (DATA / "2403.06764.xml").read_text(encoding="utf-8")
    head = template[: template.index("  <entry>")]
    head = head.replace("2403.06764", ",".join(ids))
    head = re.sub(r"(totalResults[^>]*>)\d+", rf"\g<1>{len(entries)}", head)
    head = re.sub(r"(itemsPerPage[^>]*>)\d+", rf"\g<1>{len(entries)}", head)
    return head + "".join(entries) + "</feed>\n"


class FakeArxiv:
    """Context manager running the fake API on 127.0.0.1 (random free port)."""

    def __init__(self, *, reject: set[str] = frozenset(), unavailable: set[str] = frozenset(),
                 hang_seconds: float = 0.0, mode: str | None = None) -> None:
        self.reject = set(reject)
        self.unavailable = set(unavailable)
        self.hang_seconds = hang_seconds
        self.mode = mode
        self.closed_after: float | None = None
        self.requests: list[list[str]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def query_url_format(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/query?{{}}"

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlparse(handler.path).query)
        ids = [i for i in query.get("id_list", [""])[0].split(",") if i]
        self.requests.append(ids)
        if self.hang_seconds:
            time.sleep(self.hang_seconds)
        if self.mode and _hostile(handler, self.mode, self):
            return
        status, content_type = 200, "application/atom+xml; charset=utf-8"
        rejected = [i for i in ids if i in self.reject]
        if rejected:
            status = 400
            body = (DATA / "error-incorrect-id-format.xml").read_text(encoding="utf-8").replace("{id}", rejected[0])
        elif any(i in self.unavailable for i in ids):
            status, content_type = 503, "text/html"
            body = (DATA / "error-503.html").read_text(encoding="utf-8")
        else:
            body = batch_feed(ids)
        data = body.encode("utf-8")
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def __enter__(self) -> "FakeArxiv":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake._respond(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def client(self, **kwargs: object):
        """A :class:`zoo.contrib.arxiv_client.ArxivClient` pointed here, with no delays."""
        from zoo.contrib.arxiv_client import ArxivClient

        options = {"delay_seconds": 0.0, "timeout": 5.0, "retries": 1}
        options.update(kwargs)
        return ArxivClient(query_url_format=self.query_url_format, **options)


class FakeHF:
    """The Hugging Face Papers API on 127.0.0.1: ``/api/papers/<id>`` answers the recording in
    tests/data/hf_papers/<id>.json, or 404 with not-found.json; ``mode`` as for :class:`FakeArxiv`.
    Requested ids are appended to ``requests``."""

    def __init__(self, *, mode: str | None = None) -> None:
        self.mode = mode
        self.closed_after: float | None = None
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def api_url_format(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/papers/{{id}}"

    def _respond(self, handler: BaseHTTPRequestHandler) -> None:
        paper_id = urlparse(handler.path).path.rsplit("/", 1)[-1]
        self.requests.append(paper_id)
        if self.mode and _hostile(handler, self.mode, self):
            return
        path = HF_DATA / f"{paper_id}.json"
        status = 200 if path.is_file() else 404
        data = (path if status == 200 else HF_DATA / "not-found.json").read_bytes()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def __enter__(self) -> "FakeHF":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake._respond(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def client(self, **kwargs: object):
        from zoo.contrib.hf_papers import HFPapersClient

        options = {"timeout": 5.0}
        options.update(kwargs)
        return HFPapersClient(api_url_format=self.api_url_format, **options)


def _paper(pid: str, title: str, year: int, arxiv: str, short: str | None = None, venue: dict | None = None,
           **extra: object) -> dict:
    entry = {"id": pid, "title": title, "short_name": short, "section_year": year,
             "venue": venue or {"name": "arXiv", "year": None, "kind": "preprint"}, "arxiv": arxiv,
             "links": {"paper": f"https://arxiv.org/abs/{arxiv}"}, "modality": ["image"], "technique": ["pruning"],
             "family": ["vlm"], "training_free": True, "zoo": {"status": "none"}}
    entry.update(extra)
    return entry


def write_small_catalog(path: Path) -> Path:
    """A four-paper catalog (2025, 2024 x2, 2022) written by the catalog's own writer, so it
    has the exact style of catalog.yaml. Valid; used by the add/sync/scaffold tests."""
    from zoo.catalog import validate_text
    from zoo.catalog.edit import HEADER, _new_catalog, dump_roundtrip, paper_node

    data = _new_catalog()
    for entry in [
        _paper("lvpruning", "LVPruning: An Effective yet Simple Language-Guided Vision Token Pruning Approach for "
               "Multi-modal Large Language Models", 2025, "2501.13652", "LVPruning"),
        _paper("visionzip", "VisionZip: Longer is Better but Not Necessary in Vision Language Models", 2024,
               "2412.04467", "VisionZip"),
        _paper("fastv", "An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Inference Acceleration for "
               "Large Vision-Language Models", 2024, "2403.06764", "FastV",
               {"name": "ECCV", "year": 2024, "kind": "conference", "note": "Oral"}),
        _paper("tome", "Token Merging: Your ViT But Faster", 2022, "2210.09461", "ToMe",
               {"name": "ICLR", "year": 2023, "kind": "conference", "note": "Oral"}, technique=["merging"], family=["vit"]),
    ]:
        data["papers"].append(paper_node(entry))
    path.write_text(HEADER + dump_roundtrip(data), encoding="utf-8")
    issues = validate_text(path.read_text(encoding="utf-8"), str(path))[1]
    assert not issues, issues
    return path
