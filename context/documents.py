"""The texts retrieval reads besides the cursor's — other open documents and files on disk —
and what it derives from them, computed once per version and shared between threads.

A completion must cost what changed since the last request, not the size of what else is
open. So an open document's work (its line index, its term-counted lexical windows) is cached
per editor version (`OpenDocument.version`; a plain string is compared by content), a file on
disk per modification time, and a *large* document (over `large_chars`, the engine's
`LARGE_DOCUMENT_CHARS`) is read for the lexical sources only around its recent edits — or, with
none, only its head: what a user is working on in a 13 MB file is where they last typed, and
BM25 over every window of it took a third of a second on every keystroke elsewhere.

Every text is redacted before anything is cut from it (`Text.between`, `Text.lexical`): a
window from the middle of a private key holds neither of its markers, so only the whole text
can tell that its lines are a secret. Its secrets are found once per version (`SecretScan`: a
large text chunk by chunk, only where it is read), so an unchanged document costs nothing
more per keystroke; windows are cut from the redacted text, each line where it was."""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from deskmate.context.lexical import CountedFile, counted_file
from deskmate.context.redact import SecretScan, redacted_part

# A large document is read around each of its recent edits (the most recent first, at most
# MAX_REGIONS of them): REGION_CHARS centred on the edited line, cut at line breaks. With no
# edit, its first HEAD_CHARS are read instead (imports, module docstring, first definitions).
REGION_CHARS = 32_000
HEAD_CHARS = 32_000
MAX_REGIONS = 4
REGION_SETS = 8  # per document: sets of regions remembered (edits move while typing)
OPEN_FILES = 64  # open documents' entries kept (an evicted one is simply counted again)
CURSOR_FILES = 8  # documents' texts as requests' cursors were in them, kept apart
DISK_FILES = 64  # files on disk kept
_CHUNK = 1 << 12  # a line is found by reading at most this many characters


@dataclass(frozen=True, slots=True)
class OpenDocument:
    """A document open in the editor: its text and the editor's version of it. With
    `version=None` the text is compared by content to know whether it changed."""

    text: str
    version: int | None = None


class Lines:
    """Where each line of a text starts ('\\n' ends a line, as in tree-sitter's rows), found
    without splitting the text: newlines are counted once per 4 KB chunk, at C speed (a few
    milliseconds for 20 MB), and a line is found from its chunk. Line numbers are 1-based."""

    def __init__(self, text: str) -> None:
        self.text = text
        counts = (text.count("\n", start, start + _CHUNK) for start in range(0, len(text), _CHUNK))
        self._before = list(itertools.accumulate(counts, initial=0))  # newlines before chunk i
        # As many lines as str.splitlines() gives for a text whose only line break is '\n'.
        self.count = self._before[-1] + (1 if text and not text.endswith("\n") else 0)

    def start(self, line: int) -> int:
        """The offset where `line` starts (the text's length past its last line)."""
        target = line - 1  # newlines before it
        if target <= 0:
            return 0
        if target > self._before[-1]:
            return len(self.text)
        chunk = bisect.bisect_left(self._before, target) - 1
        position, seen = chunk * _CHUNK, self._before[chunk]
        while seen < target:
            position = self.text.index("\n", position) + 1
            seen += 1
        return position

    def line_at(self, offset: int) -> int:
        """The line holding `offset`."""
        offset = max(0, min(offset, len(self.text)))
        chunk = offset // _CHUNK
        return self._before[chunk] + self.text.count("\n", chunk * _CHUNK, offset) + 1

    def between(self, first: int, last: int) -> str:
        """Lines `first` to `last` (inclusive), each with its newline."""
        first, last = max(first, 1), min(last, self.count)
        if first > last:
            return ""
        return self.text[self.start(first):self.start(last + 1)]


class Text:
    """One version of a document or file, and what retrieval derives from it, each computed
    once (under this entry's own lock: a thread that needs the same entry waits for it, no
    other thread does). What leaves it for a prompt leaves redacted: `between`, `lexical`;
    `text` and `lines` are the raw text, for positions and parsing only."""

    def __init__(self, path: str, text: str, *, version: object, large: bool) -> None:
        self.path, self.text, self.version, self.large = path, text, version, large
        self.secrets = SecretScan(text)
        self._lock = threading.Lock()
        self._lines: Lines | None = None
        self._clean: str | None = None
        self._counted: CountedFile | None = None
        self._regions: OrderedDict[tuple[tuple[int, int], ...], tuple[CountedFile, ...]] = \
            OrderedDict()

    def same(self, text: str, version: int | None) -> bool:
        """Whether this entry is of `text` at `version` (by content when there is none; a
        version is trusted, the length checked)."""
        if self.text is text:
            return True
        if version is not None:
            return self.version == version and len(self.text) == len(text)
        return self.version is None and self.text == text

    @property
    def lines(self) -> Lines:
        if (lines := self._lines) is None:
            with self._lock:
                if (lines := self._lines) is None:
                    lines = self._lines = Lines(self.text)
        return lines

    def between(self, first: int, last: int) -> tuple[str, int]:
        """Lines `first` to `last` (inclusive), each with its newline, redacted; and how many
        secrets they touch (a secret is found in the whole text, so one cut by the range is
        still seen)."""
        lines = self.lines
        first, last = max(first, 1), min(last, lines.count)
        if first > last:
            return "", 0
        return self.secrets.part(lines.start(first), lines.start(last + 1))

    def redactions(self, first: int, last: int) -> int:
        """How many secrets lines `first` to `last` touch."""
        lines = self.lines
        return len(self.secrets.within(lines.start(max(first, 1)), lines.start(last + 1)))

    @property
    def clean(self) -> str:
        """The whole text redacted, every line where it was (the text itself when it holds
        no secret)."""
        if (clean := self._clean) is None:
            secrets = self.secrets.within(0, len(self.text))
            clean = self._clean = redacted_part(self.text, secrets, 0, len(self.text)) \
                if secrets else self.text
        return clean

    def lexical(self, edited: Iterable[int] = ()) -> tuple[CountedFile, ...]:
        """The text's term-counted windows, cut from the redacted text: all of them, or for a
        large text those around the `edited` lines (most recent first), or of its head when
        none is in it."""
        if not self.large:
            if (counted := self._counted) is None:
                clean = self.clean  # (found under the scan's own lock)
                with self._lock:
                    if (counted := self._counted) is None:
                        counted = self._counted = counted_file(self.path, clean)
            return (counted,)
        spans, lines = self.regions(edited), self.lines  # (`lines` takes the lock itself)
        with self._lock:
            if (known := self._regions.get(spans)) is None:
                known = self._regions[spans] = tuple(
                    counted_file(self.path, self.secrets.part(start, end)[0],
                                 first_line=lines.line_at(start))
                    for start, end in spans)
                while len(self._regions) > REGION_SETS:
                    self._regions.popitem(last=False)
            else:
                self._regions.move_to_end(spans)
        return known

    def regions(self, edited: Iterable[int]) -> tuple[tuple[int, int], ...]:
        """[start, end) offsets of the parts of a large text read: around its recent edits,
        merged where they overlap; or its head."""
        lines, text = self.lines, self.text
        spans: list[tuple[int, int]] = []
        for line in dict.fromkeys(edited):  # most recent first, each line once
            if len(spans) == MAX_REGIONS:
                break
            if 1 <= line <= lines.count:
                at = lines.start(line)
                spans.append(_whole_lines(text, at - REGION_CHARS // 2,
                                          at + REGION_CHARS // 2, at))
        if not spans:
            spans.append(_whole_lines(text, 0, HEAD_CHARS, 0))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return tuple(merged)


def _whole_lines(text: str, low: int, high: int, at: int) -> tuple[int, int]:
    """[low, high) within the text, moved inwards to line breaks where the span has any
    besides the line at `at` (a line longer than the span is cut)."""
    low, high = max(low, 0), min(high, len(text))
    if low > 0:
        newline = text.find("\n", low, at)
        low = newline + 1 if newline >= 0 else low
    if high < len(text):
        newline = text.rfind("\n", at, high)
        high = newline + 1 if newline >= 0 else high
    return low, high


class DocumentStore:
    """Entries for open documents (by path, one version each) and for files on disk (by path
    and stamp), each evicted least recently used first. The maps have one small lock, held
    only to look up and to store: work on a text is done outside it."""

    def __init__(self, read_file: Callable[[str], str | None],
                 stamp: Callable[[str], int] = lambda path: 0, *,
                 large_chars: int = 1_000_000) -> None:
        self.read_file, self.stamp, self.large_chars = read_file, stamp, large_chars
        self._open: OrderedDict[str, Text] = OrderedDict()
        self._cursor: OrderedDict[str, Text] = OrderedDict()
        self._disk: OrderedDict[str, Text] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, open_documents: Mapping[str, OpenDocument | str]) -> Texts:
        """The texts for one request: these open documents, then files on disk."""
        return Texts(self, {path: self.open_text(path, document)
                            for path, document in open_documents.items()})

    def open_text(self, path: str, document: OpenDocument | str) -> Text:
        return self._entry(self._open, OPEN_FILES, path, document)

    def cursor_text(self, path: str, text: str) -> Text:
        """The entry for the text a request's cursor is in (compared by content: the same
        text at another cursor position, or again after `prepare`, is found once), kept apart
        from the open documents' so that neither replaces the other (a large document is the
        part around the cursor here, and what other documents read of it there)."""
        return self._entry(self._cursor, CURSOR_FILES, path, text)

    def _entry(self, entries: OrderedDict[str, Text], keep: int, path: str,
               document: OpenDocument | str) -> Text:
        text, version = (document, None) if isinstance(document, str) else \
            (document.text, document.version)
        with self._lock:
            entry = entries.get(path)
            if entry is not None and entry.same(text, version):
                entries.move_to_end(path)
                return entry
        entry = Text(path, text, version=version, large=len(text) > self.large_chars)
        with self._lock:
            entries[path] = entry
            entries.move_to_end(path)
            while len(entries) > keep:
                entries.popitem(last=False)
        return entry

    def file_text(self, path: str) -> Text | None:
        """A file as on disk, read again only when its stamp changed."""
        stamp = self.stamp(path)
        with self._lock:
            entry = self._disk.get(path)
            if entry is not None and entry.version == stamp:
                self._disk.move_to_end(path)
                return entry
        text = self.read_file(path)
        if text is None:
            return None
        entry = Text(path, text, version=stamp, large=len(text) > self.large_chars)
        with self._lock:
            self._disk[path] = entry
            self._disk.move_to_end(path)
            while len(self._disk) > DISK_FILES:
                self._disk.popitem(last=False)
        return entry

    def forget(self, path: str) -> None:
        with self._lock:
            self._disk.pop(path, None)

    def retain(self, open_paths: Iterable[str]) -> None:
        """Drop the entries of documents no longer open (a closed 20 MB document is not
        kept alive here)."""
        keep = set(open_paths)
        with self._lock:
            for entries in (self._open, self._cursor):
                for path in [p for p in entries if p not in keep]:
                    del entries[path]


class Texts:
    """What one request reads: its open documents as they are now, else files on disk."""

    def __init__(self, store: DocumentStore, open_documents: dict[str, Text]) -> None:
        self.store = store
        self.open = open_documents

    def get(self, path: str) -> Text | None:
        if (entry := self.open.get(path)) is not None:
            return entry
        return self.store.file_text(path)
