"""Candidate snippets for the window, each with a score and the reason it is there.

Order of value (DESIGN.md): definitions the code at the cursor uses — resolved through the
file's imports to other files, or by name through the symbol index — then the enclosing
class/module outline, then what the user is working on (recent edits, open documents), then
lexically similar windows. The packer (`pack.py`) chooses among them by value per token.

Each evidence source is one small function in a module of its own (`SOURCES` below, in the
order they run); this module parses the cursor's file, runs them and times each one."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from deskmate.context import (
    evidence_definitions,
    evidence_open,
    evidence_outline,
    evidence_recent,
    evidence_similar,
)
from deskmate.context.documents import DocumentStore, OpenDocument, Text
from deskmate.context.evidence import (
    NEAR_AFTER,
    NEAR_BEFORE,
    Candidate,
    Cursor,
    RecentEdit,
    Request,
    definition_summary,
    first_line,
)
from deskmate.context.extract import extract
from deskmate.context.index import WorkspaceIndex
from deskmate.context.live import LiveTrees
from deskmate.context.symbols import Definition, Import

__all__ = ["NEAR_AFTER", "NEAR_BEFORE", "SOURCES", "Candidate", "Cursor", "RecentEdit",
           "Retrieved", "Retriever", "definition_summary", "first_line"]

# Name → source, in the order they run (a later one may read what an earlier one found:
# `imports` fills the files and modules the others use). The names key `source_ms`.
SOURCES: tuple[tuple[str, Callable[[Request], None]], ...] = (
    ("imports", evidence_definitions.imports),
    ("module_members", evidence_definitions.module_members),
    ("defined_here", evidence_definitions.defined_here),
    ("by_name", evidence_definitions.by_name),
    ("outline", evidence_outline.outline),
    ("recent", evidence_recent.recent_edits),
    ("open", evidence_open.open_documents),
    ("similar", evidence_similar.similar),
)


@dataclass(frozen=True, slots=True)
class Retrieved:
    candidates: list[Candidate]  # best first
    # Milliseconds per step: "parse" (the cursor's file, incrementally, and its symbols),
    # "documents" (the open documents' cached entries looked up), "words" (identifiers near
    # the cursor, the lexical query), then each source of SOURCES by name.
    source_ms: dict[str, float]


class Retriever:
    """Runs the evidence sources for a cursor. Safe to call from several threads at once: it
    keeps no state of its own besides `documents` and `live`, which lock what they share."""

    def __init__(self, index: WorkspaceIndex | None, *, live: LiveTrees | None = None,
                 read_file: Callable[[str], str | None] | None = None,
                 documents: DocumentStore | None = None) -> None:
        self.index = index
        self.live = live or LiveTrees()
        self.documents = documents or DocumentStore(read_file or (lambda path: None))

    def retrieve(
        self,
        cursor: Cursor,
        *,
        open_documents: Mapping[str, OpenDocument | str] | None = None,
        recent_edits: Sequence[RecentEdit] = (),
        cursor_text: Text | None = None,
    ) -> Retrieved:
        """`cursor_text`: the store's entry for the cursor's text (`DocumentStore.open_text`),
        whose secrets are found once for the sources and the packer alike."""
        started = time.perf_counter()
        definitions, imports = self._current_symbols(cursor)
        parsed = time.perf_counter()
        texts = self.documents.view(open_documents or {})
        viewed = time.perf_counter()
        request = Request(cursor=cursor, index=self.index, texts=texts, cursor_text=cursor_text,
                          recent_edits=recent_edits, definitions=definitions, imports=imports)
        source_ms = {"parse": (parsed - started) * 1000, "documents": (viewed - parsed) * 1000,
                     "words": (time.perf_counter() - viewed) * 1000}
        for name, source in SOURCES:
            started = time.perf_counter()
            source(request)
            source_ms[name] = (time.perf_counter() - started) * 1000
        return Retrieved(request.found.sorted(), source_ms)

    def candidates(self, cursor: Cursor, *,
                   open_documents: Mapping[str, OpenDocument | str] | None = None,
                   recent_edits: Sequence[RecentEdit] = ()) -> list[Candidate]:
        """The candidates alone, best first."""
        return self.retrieve(cursor, open_documents=open_documents,
                             recent_edits=recent_edits).candidates

    def _current_symbols(self, cursor: Cursor) -> tuple[tuple[Definition, ...], tuple[Import, ...]]:
        if not cursor.language:
            return (), ()
        source = cursor.text.encode("utf-8", "surrogatepass")
        tree = self.live.parse(cursor.path, cursor.language, source)
        return extract(cursor.language, source, cursor.path, tree)
