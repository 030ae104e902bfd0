"""Evidence 4: open documents — the windows of the other documents open in the editor most
like the code at the cursor (BM25 over their term-counted windows, counted once per document
version; a large document only around its recent edits, see `documents.py`)."""

from __future__ import annotations

from deskmate.context.evidence import Candidate, Request
from deskmate.context.lexical import best_windows, squash

OPEN_DOCUMENT = 0.25
TOP = 2


def open_documents(request: Request) -> None:
    if not request.query:
        return
    entries = {path: entry for path, entry in request.texts.open.items()
               if path != request.cursor.path}
    others = [counted for path, entry in entries.items()
              for counted in entry.lexical(request.edited_lines(path))]
    # The windows are cut from each document's redacted text (`Text.lexical`).
    for score, window in best_windows(request.query, others, top=TOP):
        request.found.add(Candidate(
            "open", window.path, window.start_line, window.end_line, window.text,
            OPEN_DOCUMENT * squash(score), "open in the editor, similar to the code at the cursor",
            redactions=entries[window.path].redactions(window.start_line, window.end_line)))
