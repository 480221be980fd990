"""The tokzoo website: generated from ``catalog.yaml``, the method registry, the repro scripts and
records and the benchmark records, built with MkDocs-material (``tokzoo site build`` /
``tokzoo site serve``; ``tokzoo site metadata`` refreshes the committed method metadata).

Modules: ``data`` (gather everything into plain data), ``metadata`` (method docs and recorded
token schedules, committed as ``site/data/methods.json`` for builds without torch),
``repro_view`` (repro records -> claim rows), ``status`` (status per kind, badges), ``theory``
(cost of recorded schedules with ``zoo.flops``), ``escape`` (catalog text -> safe
Markdown/HTML/JSON), ``docstring`` (docstrings -> safe Markdown), ``badges`` (offline SVG
badges), ``markdown`` (tables, cells, catalog fields read defensively), ``pages_*`` (one module
per kind of page: catalog, method, compare, claims, stats, reference), ``plots`` (matplotlib
SVGs in both colour schemes), ``contributing``, ``build`` (write the tree, run mkdocs).
Nothing here is imported by ``import zoo`` or ``import zoo.cli``.
"""
