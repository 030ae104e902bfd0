"""Evidence 5: lexically similar code — the best BM25 windows of a few neighbouring files:
those the imports lead to, then the cursor file's directory, most alike in name first
(test_parser.py ↔ parser.py)."""

from __future__ import annotations

import re

from deskmate.context.documents import Text
from deskmate.context.evidence import Candidate, Request
from deskmate.context.lexical import best_windows, squash

SIMILAR = 0.2
TOP = 3
MAX_NEIGHBOUR_FILES = 4


def similar(request: Request) -> None:
    if not request.query:
        return
    entries = dict(neighbour_files(request))
    neighbours = [counted for path, entry in entries.items()
                  for counted in entry.lexical(request.edited_lines(path))]
    # The windows are cut from each file's redacted text (`Text.lexical`).
    for score, window in best_windows(request.query, neighbours, top=TOP):
        request.found.add(Candidate(
            "similar", window.path, window.start_line, window.end_line, window.text,
            SIMILAR * squash(score), "similar to the code at the cursor",
            redactions=entries[window.path].redactions(window.start_line, window.end_line)))


def neighbour_files(request: Request) -> list[tuple[str, Text]]:
    """Up to MAX_NEIGHBOUR_FILES readable files worth a lexical look, best first."""
    cursor = request.cursor
    paths = sorted(request.imported_files)
    if request.index is not None:
        directory = cursor.path.rsplit("/", 1)[0] if "/" in cursor.path else ""
        mine = _name_words(cursor.path)
        paths += sorted(request.index.files_in(directory),
                        key=lambda p: (-len(mine & _name_words(p)), p))
    chosen: dict[str, Text] = {}
    for path in paths:
        if path == cursor.path or path in chosen:
            continue
        if (entry := request.texts.get(path)) is not None:
            chosen[path] = entry
        if len(chosen) >= MAX_NEIGHBOUR_FILES:
            break
    return list(chosen.items())


def _name_words(path: str) -> set[str]:
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return {w for w in re.split(r"[_\-.]+", stem.lower()) if w and w != "test"}
