"""One object the server talks to: the workspace index, retrieval and packing together.

`ContextEngine.window()` answers "what goes into the prompt for this cursor", using whatever
part of the index is built so far: the first completion never waits for the whole walk."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from deskmate.context.index import BuildStats, WorkspaceIndex, default_cache_dir
from deskmate.context.languages import BY_NAME, language_for_path
from deskmate.context.live import LiveTrees
from deskmate.context.pack import ContextWindow, pack_context
from deskmate.context.retrieve import Cursor, RecentEdit, Retriever
from deskmate.context.workspace import FileEntry, Workspace

RECENT_EDITS = 16
PREPARE_BUDGET = 2048
# A document longer than this (the index's own size cap) is read around the cursor only: a
# slice that starts on a coarse grid, so it stays put while the user types and the live tree
# is re-parsed incrementally. 16k tokens are ~64 KB of code; the slice holds several times it.
LARGE_DOCUMENT_CHARS = 1_000_000
SLICE_BEFORE, SLICE_AFTER, SLICE_GRID = 256_000, 64_000, 65_536


@dataclass(frozen=True, slots=True)
class _Edit:
    path: str
    line: int
    at: float


class ContextEngine:
    def __init__(self, root: Path | None, *, exclude: tuple[str, ...] = (),
                 cache_dir: Path | None = None, use_cache: bool = True,
                 workers: int = 0) -> None:
        """`workers`: processes that parse a cold index (0: parse in this process)."""
        self.root = root.resolve() if root is not None else None
        self.workers = workers
        self.workspace = Workspace(self.root, exclude=exclude) if self.root else None
        self.index = (WorkspaceIndex(self.workspace,
                                     cache_dir=(cache_dir or default_cache_dir())
                                     if use_cache else None)
                      if self.workspace else None)
        self.live = LiveTrees()
        self.retriever = Retriever(self.index, live=self.live, read_file=self._read)
        self._edits: deque[_Edit] = deque(maxlen=RECENT_EDITS)
        # Retrieval's caches are not shared between threads: one window at a time.
        self._lock = threading.Lock()

    # -- the index ---------------------------------------------------------------------------

    def build_index(self, *, progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] = lambda: False) -> BuildStats | None:
        if self.index is None:
            return None
        return self.index.build(progress=progress, cancelled=cancelled, workers=self.workers)

    def relative(self, path: Path) -> str | None:
        """`path` relative to the workspace root, or None when it is outside."""
        if self.root is None:
            return None
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError, RuntimeError):  # RuntimeError: a link loop, Python < 3.13
            return None

    def is_excluded(self, relative: str) -> bool:
        return self.workspace is not None and self.workspace.is_excluded(relative)

    def exclusion_reason(self, relative: str) -> str | None:
        return self.workspace.exclusion_reason(relative) if self.workspace else None

    def file_changed(self, relative: str) -> None:
        """A file was saved, created or changed on disk: re-index it from disk."""
        if self.index is not None:
            self.index.update(relative)

    def file_deleted(self, relative: str) -> None:
        if self.index is not None:
            self.index.remove(relative)
        self.live.forget(relative)

    def note_edit(self, relative: str, line: int) -> None:
        """The user changed `line` (1-based) of a document: recent edits are context."""
        if self._edits and self._edits[-1].path == relative and \
                abs(self._edits[-1].line - line) < 8:
            self._edits.pop()
        self._edits.append(_Edit(relative, line, time.monotonic()))

    # -- the window ----------------------------------------------------------------------------

    def window(self, *, path: str, text: str, offset: int, budget: int,
               open_documents: Mapping[str, str] | None = None) -> ContextWindow:
        """The context for a cursor at `offset` in `text` (the document at `path`, relative to
        the workspace) within `budget` tokens."""
        language = language_for_path(path) or ""
        now = time.monotonic()
        recent = [RecentEdit(e.path, e.line, now - e.at) for e in reversed(self._edits)
                  if not self.is_excluded(e.path)]
        # The same rules as the index's, whatever the caller passes: no excluded file in.
        open_documents = {p: t for p, t in (open_documents or {}).items()
                          if not self.is_excluded(p)}
        first_line = 1
        if len(text) > LARGE_DOCUMENT_CHARS:
            start, end = _slice_around(text, offset)
            first_line += text.count("\n", 0, start)
            text, offset = text[start:end], offset - start
        with self._lock:
            candidates = self.retriever.candidates(
                Cursor(path=path, language=language, text=text, offset=offset),
                open_documents=open_documents, recent_edits=recent)
            if first_line > 1:  # the slice's own line numbers are the file's, shifted
                shift = first_line - 1
                candidates = [replace(c, start_line=c.start_line + shift,
                                      end_line=c.end_line + shift)
                              if c.path == path else c for c in candidates]
            return pack_context(text, offset, budget=budget, path=path, candidates=candidates,
                                comment=comment_for, first_line=first_line)

    def prepare(self, path: str, text: str) -> None:
        """Do a document's first-request work ahead of time (parse it, read and count its
        neighbours), so its first completion is as quick as the ones while typing."""
        self.window(path=path, text=text, offset=len(text) // 2, budget=PREPARE_BUDGET)

    def _read(self, relative: str) -> str | None:
        if self.workspace is None or self.root is None:
            return None
        absolute = self.root / relative
        try:
            stat = absolute.stat()
        except OSError:
            return None
        return self.workspace.read_text(FileEntry(path=relative, absolute=absolute,
                                                  size=stat.st_size, mtime_ns=stat.st_mtime_ns))


def _slice_around(text: str, offset: int) -> tuple[int, int]:
    """[start, end) of the part of a large document retrieval reads: whole lines where the
    document has any, else cut where the budget could never reach anyway."""
    low = max(offset - SLICE_BEFORE, 0) // SLICE_GRID * SLICE_GRID
    if low > 0:
        newline = text.find("\n", low, offset)
        low = newline + 1 if newline >= 0 else low
    high = -(-min(offset + SLICE_AFTER, len(text)) // SLICE_GRID) * SLICE_GRID
    if high < len(text):
        newline = text.rfind("\n", offset, high)
        high = newline + 1 if newline >= 0 else high
    return low, min(high, len(text))


def comment_for(path: str) -> str:
    """The line-comment prefix of a path's language ('#' for files without a grammar)."""
    language = language_for_path(path)
    return BY_NAME[language].comment if language else "#"
