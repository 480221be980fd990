"""Contribution tooling: ``tokzoo add``, ``tokzoo new-method``, ``tokzoo sync``, metadata refresh.

Modules (each with one job; none imports torch):

- ``arxiv_ids``: parse and normalise arXiv identifiers and URLs (no network).
- ``arxiv_client``: fetch metadata through the ``arxiv`` package with timeouts, a polite
  delay, retries, bounded reads and per-id error reporting.
- ``hf_papers``: the Hugging Face Papers API (authors, abstract, code repository, project
  page), the second metadata source of ``tokzoo add``; ``http``: bounded HTTP reads (size cap
  after decompression, deadline) shared by both clients.
- ``labels``: a transparent keyword proposer for modality / technique / family labels.
- ``catalog_edit``: round-trip editing of ``catalog.yaml`` (comments kept), duplicate
  checks, validation of the whole new catalog and an atomic write.
- ``add``: the ``tokzoo add`` workflow; ``scaffold``: ``tokzoo new-method``;
  ``sync``: ``tokzoo sync``; ``links``: link checking for the scheduled refresh.
"""
