"""The tokzoo website: generated from ``catalog.yaml``, the method registry and the recorded
results, built with MkDocs-material (``tokzoo site build`` / ``tokzoo site serve``).

Modules: ``data`` (gather everything into plain data), ``repro_view`` (repro records ->
claim rows), ``escape`` (catalog text -> safe Markdown/HTML/JSON), ``badges`` (offline SVG
badges), ``markdown`` (tables and cells), ``pages_*`` (one module per kind of page),
``plots`` (matplotlib SVGs), ``contributing``, ``build`` (write the tree, run mkdocs).
Nothing here is imported by ``import zoo`` or ``import zoo.cli``.
"""
