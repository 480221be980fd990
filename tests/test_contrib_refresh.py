"""Scheduled maintenance: arXiv metadata report and link checks (local servers only)."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import FakeArxiv, write_small_catalog
from zoo.catalog import load_catalog
from zoo.cli import app
from zoo.contrib.links import check_links, check_url
from zoo.contrib.refresh import refresh_report

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("refresh_metadata_tool", REPO / "tools" / "refresh_metadata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Site(BaseHTTPRequestHandler):
    def _answer(self, with_body: bool) -> None:
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/nohead" and self.command == "HEAD":
            status = 405
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok")
            self.end_headers()
            return
        else:
            status = {"/ok": 200, "/nohead": 206, "/gone": 404, "/busy": 503, "/slow": 200}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "1")
        self.end_headers()
        if with_body:
            self.wfile.write(b"x")

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_links_are_classified_ok_broken_or_flaky(site):
    assert check_url(f"{site}/ok") == ("ok", "HTTP 200")
    assert check_url(f"{site}/moved")[0] == "ok"
    assert check_url(f"{site}/nohead") == ("ok", "HTTP 206")  # HEAD refused, ranged GET answered
    assert check_url(f"{site}/gone") == ("broken", "HTTP 404")
    assert check_url(f"{site}/busy") == ("flaky", "HTTP 503")
    outcome, detail = check_url(f"{site}/slow", timeout=0.3)
    assert outcome == "flaky" and "0.3 s" in detail
    results = check_links({f"{site}/ok": ["a"], f"{site}/gone": ["b", "c"]}, workers=2)
    assert [(r.outcome, r.papers) for r in results] == [("ok", ("a",)), ("broken", ("b", "c"))]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tool_reports_flaky_hosts_without_failing_unless_asked(tmp_path):
    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    port = _closed_port()
    catalog.write_text(catalog.read_text().replace("https://arxiv.org/abs/", f"https://127.0.0.1:{port}/abs/"))
    tool = _tool()
    report = tmp_path / "report.md"
    args = ["--catalog", str(catalog), "--no-arxiv", "--check-links", "--timeout", "2", "--report", str(report)]
    assert tool.main(args) == 0
    text = report.read_text()
    assert "(4 checked: 0 ok, 0 broken, 4 flaky)" in text and "used by `fastv`" in text
    assert tool.main(args + ["--fail-on-broken"]) == 0
    assert tool.main(args + ["--fail-on-flaky"]) == 1


def test_arxiv_refresh_reports_title_changes_venue_hints_and_unknown_ids(tmp_path):
    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    catalog.write_text(catalog.read_text().replace("title: 'Token Merging: Your ViT But Faster'",
                                                   "title: 'Token Merging: an earlier title'"))
    with FakeArxiv() as fake:
        added = CliRunner().invoke(app, ["add", "2503.02175", "--venue", "arXiv", "--catalog", str(catalog),
                                         "--arxiv-api", fake.query_url_format])
        assert added.exit_code == 0, added.output
        report = refresh_report(load_catalog(catalog).papers, fake.client().fetch)
        tool_report = tmp_path / "r.md"
        assert _tool().main(["--catalog", str(catalog), "--arxiv-api", fake.query_url_format,
                             "--report", str(tool_report)]) == 0
    assert report.checked == 4
    assert report.title_changes == [("tome", "Token Merging: an earlier title", "Token Merging: Your ViT But Faster")]
    assert report.venue_hints == [("divprune", "CVPR 2025", "Accepted to CVPR 2025")]
    assert report.unknown == ["lvpruning"]
    text = tool_report.read_text()
    assert "`divprune`: CVPR 2025" in text and "arXiv ids arXiv does not know: `lvpruning`" in text
