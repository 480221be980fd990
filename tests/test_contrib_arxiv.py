"""The arXiv client against recorded responses served on 127.0.0.1 (no network)."""

from __future__ import annotations

import socket
import time

import pytest

from contrib_fakes import FakeArxiv
from zoo.contrib.arxiv_client import ArxivClient, ArxivNotFound, ArxivUnavailable
from zoo.contrib.arxiv_ids import InvalidArxivId, normalize_arxiv_id


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2403.06764", "2403.06764"),
        ("2403.06764v3", "2403.06764"),
        ("arXiv:2403.06764", "2403.06764"),
        (" https://arxiv.org/abs/2403.06764v1 ", "2403.06764"),
        ("https://arxiv.org/pdf/2403.06764.pdf", "2403.06764"),
        ("http://export.arxiv.org/abs/2210.09461", "2210.09461"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("0704.0001", "0704.0001"),
    ],
)
def test_normalize_accepts_ids_and_urls(text, expected):
    assert normalize_arxiv_id(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("2403.0676x", "expected a new-style id"),
    ("2413.06764", "month 13"),
    ("2403.6764", "5 digits"),
    ("", "empty"),
    ("https://example.org/abs/2403.06764", "expected"),
])
def test_normalize_rejects_with_a_message_naming_the_input(text, reason):
    with pytest.raises(InvalidArxivId) as info:
        normalize_arxiv_id(text)
    assert repr(text) in str(info.value) and reason in str(info.value)


def test_fetch_one_parses_a_recorded_entry():
    with FakeArxiv() as fake:
        record = fake.client().fetch_one("https://arxiv.org/abs/2403.06764v1")
    assert record.arxiv_id == "2403.06764" and record.version == "3"
    # arXiv wraps long titles over lines; whitespace is collapsed
    assert record.title == ("An Image is Worth 1/2 Tokens After Layer 2: Plug-and-Play Inference "
                            "Acceleration for Large Vision-Language Models")
    assert record.authors[0] == "Liang Chen" and len(record.authors) == 7
    assert record.published.isoformat() == "2024-03-11"
    assert record.comment == "Accepted to ECCV 2024 (Oral)"
    assert record.url == "https://arxiv.org/abs/2403.06764"
    assert fake.requests == [["2403.06764"]]


def test_malformed_id_is_reported_and_never_sent_so_the_batch_survives():
    with FakeArxiv() as fake:
        report = fake.client().fetch(["2403.06764", "2403.0676x", "2210.09461"])
    assert sorted(report.found) == ["2210.09461", "2403.06764"]
    assert list(report.invalid) == ["2403.0676x"]
    assert all("2403.0676x" not in ids for ids in fake.requests)


def test_ids_arxiv_silently_drops_are_reported_missing():
    with FakeArxiv() as fake:
        report = fake.client().fetch(["2403.06764", "2501.99999"])
    assert list(report.found) == ["2403.06764"]
    assert report.missing == ["2501.99999"]
    assert not report.ok and "unknown to arXiv (2501.99999)" in report.summary()
    with FakeArxiv() as fake, pytest.raises(ArxivNotFound, match="2501.99999"):
        fake.client().fetch_one("2501.99999")


def test_failure_mid_batch_keeps_earlier_results_and_goes_on():
    with FakeArxiv(unavailable={"2412.04467"}) as fake:
        report = fake.client(batch_size=1, retries=1).fetch(
            ["2403.06764", "2412.04467", "2210.09461"])
    assert sorted(report.found) == ["2210.09461", "2403.06764"]
    assert list(report.failed) == ["2412.04467"]
    assert "HTTP 503" in report.failed["2412.04467"] and "after 2 tries" in report.failed["2412.04467"]
    # one request each for the good ids, two (one retry) for the unavailable one
    assert fake.requests == [["2403.06764"], ["2412.04467"], ["2412.04467"], ["2210.09461"]]


def test_a_batch_the_server_rejects_is_split_to_name_the_culprit():
    with FakeArxiv(reject={"2401.00001"}) as fake:
        report = fake.client(batch_size=5).fetch(["2403.06764", "2401.00001", "2503.02175"])
    assert sorted(report.found) == ["2403.06764", "2503.02175"]
    assert list(report.invalid) == ["2401.00001"] and "HTTP 400" in report.invalid["2401.00001"]
    assert fake.requests[0] == ["2403.06764", "2401.00001", "2503.02175"]
    assert len(fake.requests) == 4  # the batch, then one request per id


def test_a_server_that_does_not_answer_times_out():
    with FakeArxiv(hang_seconds=3.0) as fake:
        start = time.monotonic()
        with pytest.raises(ArxivUnavailable, match="did not answer|no complete answer"):
            fake.client(timeout=0.3, retries=0).fetch_one("2403.06764")
        assert time.monotonic() - start < 2.5


def test_unreachable_server_stops_the_batches_with_a_clear_message():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ArxivClient(query_url_format=f"http://127.0.0.1:{port}/api/query?{{}}",
                         delay_seconds=0.0, timeout=2.0, retries=0, batch_size=1)
    report = client.fetch(["2403.06764", "2210.09461"])
    assert not report.found
    assert "refused" in report.failed["2403.06764"]
    assert report.failed["2210.09461"].startswith("not tried:")


def test_requests_are_spaced_by_the_polite_delay():
    with FakeArxiv() as fake:
        start = time.monotonic()
        report = fake.client(batch_size=1, delay_seconds=0.25).fetch(["2403.06764", "2210.09461"])
        assert time.monotonic() - start >= 0.25
    assert len(report.found) == 2
