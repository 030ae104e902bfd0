"""One object the server talks to: the workspace index, retrieval and packing together.

`ContextEngine.window()` answers "what goes into the prompt for this cursor (or selection)",
using whatever part of the index is built so far: the first completion never waits for the
whole walk. It is called from worker threads, several at once, and never makes one window
wait for another: what they share (parsed trees, open documents' and files' derived data,
recent edits) sits behind small locks of its own, held only to look up and store."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from deskmate.context.documents import DocumentStore, OpenDocument
from deskmate.context.index import BuildStats, WorkspaceIndex, default_cache_dir
from deskmate.context.languages import BY_NAME, language_for_path
from deskmate.context.live import LiveTrees
from deskmate.context.pack import ContextWindow, SelectionTooLarge, pack_context, selection_tokens
from deskmate.context.privacy import ExcludedDocument, file_reason
from deskmate.context.retrieve import Cursor, RecentEdit, Retriever
from deskmate.context.workspace import FileEntry, Workspace

__all__ = ["LARGE_DOCUMENT_CHARS", "ContextEngine", "ContextWindow", "OpenDocument",
           "SelectionTooLarge", "comment_for", "slice_bounds"]

RECENT_EDITS = 16
PREPARE_BUDGET = 2048
# A document longer than this (the index's own size cap) is read around the cursor only: a
# slice that starts on a coarse grid, so it stays put while the user types and the live tree
# is re-parsed incrementally. 16k tokens are ~64 KB of code; the slice holds several times it.
# Another open document this long is read around its recent edits only (documents.py).
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
        self.documents = DocumentStore(self._read, self._stamp, large_chars=LARGE_DOCUMENT_CHARS)
        self.retriever = Retriever(self.index, live=self.live, documents=self.documents)
        self._edits: deque[_Edit] = deque(maxlen=RECENT_EDITS)
        self._edits_lock = threading.Lock()
        self._rule_changes = 0  # how many times ignore rules changed (see `rules_changed`)

    # -- the index ---------------------------------------------------------------------------

    def build_index(self, *, progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] = lambda: False) -> BuildStats | None:
        if self.index is None:
            return None
        changes = self._rule_changes
        stats = self.index.build(progress=progress, cancelled=cancelled, workers=self.workers)
        if self._rule_changes != changes:  # files walked under the old rules went in since
            self.rules_changed()
        return stats

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
        self.documents.forget(relative)

    def rules_changed(self, folder: str = "") -> list[str]:
        """An ignore file in `folder` (relative to the root; '' for rules that reach the whole
        workspace) was added, changed or deleted: forget at once every file under it that the
        rules now exclude (its index entry, its parsed tree, its text), so none of it reaches
        the next prompt. Returns the paths forgotten. Files the rules no longer exclude join
        the index with `index_missing`."""
        if self.index is None or self.workspace is None:
            return []
        self._rule_changes += 1
        under = folder + "/" if folder else ""
        candidates = [p for p in self.index.paths() if p.startswith(under)]
        dropped = self.workspace.excluded_among(candidates)
        for path in dropped:
            self.file_deleted(path)
        return dropped

    def index_missing(self) -> int:
        """Index the files the walk allows that the index lacks (after an ignore rule that
        excluded them went away); the number added. Slow (a walk): run it off the loop."""
        if self.index is None or self.workspace is None:
            return 0
        missing = [e.path for e in self.workspace.walk() if self.index.file(e.path) is None]
        for path in missing:
            self.index.update(path)  # judges the path again: the rules may have changed since
        return len(missing)

    def note_edit(self, relative: str, line: int) -> None:
        """The user changed `line` (1-based) of a document: recent edits are context (and
        where a large open document is read)."""
        with self._edits_lock:
            if self._edits and self._edits[-1].path == relative and \
                    abs(self._edits[-1].line - line) < 8:
                self._edits.pop()
            self._edits.append(_Edit(relative, line, time.monotonic()))

    # -- the window ----------------------------------------------------------------------------

    def window(self, *, path: str, text: str, offset: int, budget: int,
               open_documents: Mapping[str, OpenDocument | str] | None = None,
               end: int | None = None, first_line: int = 1) -> ContextWindow:
        """The context for a cursor at `offset` in `text` (the document at `path`, relative to
        the workspace) within `budget` tokens; with `end` (> offset), for the selection
        [offset, end), which is sent whole (SelectionTooLarge when it alone is over budget).

        `open_documents`: the other documents open in the editor, by relative path, with
        their versions (a plain string is compared by content): what is derived from each is
        kept per version, so an unchanged one costs next to nothing, and dropped once a
        request's `open_documents` no longer has it (None: no change).

        `first_line`: the document's line where `text` starts, when `text` is only the part
        of a large document around the cursor (`slice_bounds`), as an editor's document
        hands it over. Thread-safe."""
        started = time.perf_counter()
        # Second line of defence behind the server's gate: never pack an excluded document.
        # (Without a workspace only the rules by name can judge it.)
        reason = self.exclusion_reason(path) if self.workspace is not None else \
            file_reason(path.rsplit("/", 1)[-1])
        if reason is not None:
            raise ExcludedDocument(path, reason)
        offset = max(0, min(offset, len(text)))
        if end is not None:
            if end < offset:
                raise ValueError(f"the selection ends (offset {end}) before it starts "
                                 f"(offset {offset})")
            end = min(end, len(text))
            if end == offset:
                end = None
            else:  # before any work: a selection over budget has no window at all
                selection_tokens(text[offset:end], budget)
        language = language_for_path(path) or ""
        now = time.monotonic()
        with self._edits_lock:
            edits = list(self._edits)
        recent = [RecentEdit(e.path, e.line, now - e.at) for e in reversed(edits)
                  if not self.is_excluded(e.path)]
        # The same rules as the index's, whatever the caller passes: no excluded file in.
        documents = {p: d for p, d in (open_documents or {}).items() if not self.is_excluded(p)}
        if open_documents is not None:  # all that is open: forget what was closed
            self.documents.retain([path, *documents])
        if len(text) > LARGE_DOCUMENT_CHARS:
            start, stop = _slice_around(text, offset, offset if end is None else end)
            first_line += text.count("\n", 0, start)
            text, offset = text[start:stop], offset - start
            end = None if end is None else end - start
        # The cursor's text is kept like an open document's: its secrets are found once per
        # version, for the sources that cut snippets from it and for the packer.
        cursor_text = self.documents.cursor_text(path, text)
        retrieving = time.perf_counter()
        retrieved = self.retriever.retrieve(
            Cursor(path=path, language=language, text=cursor_text.text, offset=offset, end=end,
                   first_line=first_line),
            open_documents=documents, recent_edits=recent, cursor_text=cursor_text)
        candidates = retrieved.candidates
        if first_line > 1:  # the slice's own line numbers are the file's, shifted
            shift = first_line - 1
            candidates = [replace(c, start_line=c.start_line + shift,
                                  end_line=c.end_line + shift)
                          if c.path == path else c for c in candidates]
        packing = time.perf_counter()
        window = pack_context(cursor_text.text, offset, budget=budget, path=path,
                              candidates=candidates, comment=comment_for, first_line=first_line,
                              end=end, secrets=cursor_text.secrets)
        done = time.perf_counter()
        source_ms = {"setup": (retrieving - started) * 1000, **retrieved.source_ms,
                     "pack": (done - packing) * 1000}
        return replace(window, source_ms=source_ms)

    def prepare(self, path: str, text: str, *, first_line: int = 1) -> None:
        """Do a document's first-request work ahead of time (parse it, read and count its
        neighbours), so its first completion is as quick as the ones while typing.
        `first_line` as for `window`."""
        self.window(path=path, text=text, offset=len(text) // 2, budget=PREPARE_BUDGET,
                    first_line=first_line)

    def _stamp(self, relative: str) -> int:
        """What tells a file's versions apart: the index's modification time (0 when it is
        not indexed)."""
        symbols = self.index.file(relative) if self.index is not None else None
        return symbols.mtime_ns if symbols is not None else 0

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


def _slice_around(text: str, offset: int, end: int) -> tuple[int, int]:
    """[start, end) of the part of a large document retrieval reads around the cursor (or
    the selection [offset, end)): see `slice_bounds`."""
    return slice_bounds(len(text), offset, end, lambda low, high: text[low:high])


def slice_bounds(length: int, offset: int, end: int, read: Callable[[int, int], str]
                 ) -> tuple[int, int]:
    """[start, end) of the part of a large document (`length` characters, `read(a, b)` its
    text in [a, b)) retrieval reads around the cursor or the selection [offset, end): whole
    lines where the document has any, else cut where the budget could never reach anyway.
    Only the part's own text is read: an editor's document hands a job just this part."""
    low = max(offset - SLICE_BEFORE, 0) // SLICE_GRID * SLICE_GRID
    if low > 0:
        newline = read(low, offset).find("\n")
        low = low + newline + 1 if newline >= 0 else low
    high = min(-(-min(end + SLICE_AFTER, length) // SLICE_GRID) * SLICE_GRID, length)
    if high < length:
        newline = read(end, high).rfind("\n")
        high = end + newline + 1 if newline >= 0 else high
    return low, high


def comment_for(path: str) -> str:
    """The line-comment prefix of a path's language ('#' for files without a grammar)."""
    language = language_for_path(path)
    return BY_NAME[language].comment if language else "#"
