"""Index I/O: what reads and fetches indexes and their archives from outside the process.

``catalog`` (the local SQLite/FTS5 copy of the indexes), ``git`` (clone,
fetch and commit through the git command) and ``fetch`` (the archive cache:
copies and downloads by sha256).  The pure rules they apply (index layout,
archive building, verification and extraction) stay in ``core/``.

This ``__init__`` imports nothing: ``search`` and ``show`` import
``indexio.catalog`` on their fast path.
"""
