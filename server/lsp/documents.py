"""Open documents as the editor has them, and LSP positions ↔ string offsets.

LSP lines end at \\n, \\r\\n or \\r (nothing else: not U+2028, not form feed), and a position's
`character` counts code units of the negotiated encoding (UTF-16 unless the client offered
UTF-8 or UTF-32). A position past the end of a line means the end of that line; past the last
line, the end of the document.

A document is kept in pieces of about `PIECE` characters, each with its length and line-break
counts, not as one string: Python strings are immutable, so one keystroke in a single 67 MB
string copied all of it (twice), and rescanned its line table below the edit — hundreds of
milliseconds to seconds on the event loop, per keystroke. Now a keystroke rewrites one piece
and its neighbours, and the running totals are summed again over a few thousand integers.
The whole text is joined only when something asks for all of it (`text`, cached per version);
a job in a document over `LARGE_DOCUMENT_CHARS` gets only the part around its cursor that the
context engine reads (`part`), and other documents' requests only what they read of it
(`context_text`)."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from lsprotocol import types

from deskmate.context.documents import REGION_CHARS
from deskmate.context.engine import LARGE_DOCUMENT_CHARS, slice_bounds

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
PIECE = 1 << 16  # characters in a piece (between half this and this, but for a short text)
RECENT_EDITS = 16  # edited lines remembered per document, as the context engine keeps them
# What other documents' requests read of a large document: its head, and a region around
# each recent edit (context/documents.py), with this much more on each side, so that a secret
# cut by a region's edge is still seen whole by the redaction around it.
AROUND_EDIT = REGION_CHARS
HEAD = 2 * REGION_CHARS


def units(text: str, encoding: str) -> int:
    """Length of `text` in code units of `encoding`."""
    if encoding == types.PositionEncodingKind.Utf32 or text.isascii():
        return len(text)
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def column_to_index(line: str, column: int, encoding: str) -> int:
    """Index into `line` of the code unit `column` (clamped to the line; a column that falls
    inside a character lands after it, never splitting it)."""
    if encoding == types.PositionEncodingKind.Utf32 or line.isascii():
        return min(column, len(line))
    seen = 0
    for index, char in enumerate(line):
        if seen >= column:
            return index
        seen += units(char, encoding)
    return len(line)


@dataclass(frozen=True, slots=True)
class Part:
    """A stretch of a document: its text, the offset where it starts and the line number
    (1-based, counting \\n as the context engine does) of its first line."""

    text: str
    base: int = 0
    first_line: int = 1


def _split(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` (and, but for a short text, at least half that)
    characters, never cut between a \\r and its \\n."""
    count = max(1, -(-len(text) // size))
    pieces, start = [], 0
    for number in range(1, count + 1):
        cut = len(text) * number // count
        if 0 < cut < len(text) and text[cut - 1] == "\r" and text[cut] == "\n":
            cut += 1
        if cut > start:
            pieces.append(text[start:cut])
            start = cut
    return pieces or [""]


def _counts(piece: str) -> tuple[int, int]:
    """(\\n, line breaks) in a piece."""
    newlines = piece.count("\n")
    if "\r" not in piece:
        return newlines, newlines
    return newlines, newlines + piece.count("\r") - piece.count("\r\n")


def _starts_in(piece: str) -> list[int]:
    """Where the lines that start inside `piece` start (after each of its line breaks)."""
    if "\r" in piece:
        return [m.end() for m in _LINE_BREAK.finditer(piece)]
    # Without \r, from the lines' lengths: at C speed, not one regex match per line.
    return [end + number for number, end in
            enumerate(accumulate(map(len, piece.split("\n")[:-1])), 1)]


class Document:
    """One open document, in pieces (see the module's docstring)."""

    def __init__(self, uri: str, text: str, version: int | None, language_id: str = "", *,
                 piece: int = PIECE) -> None:
        self.uri, self.version, self.language_id = uri, version, language_id
        self._size = piece
        self._edits: list[int] = []  # edited lines (0-based), the most recent last
        self._load(_split(text, piece))

    def _load(self, pieces: list[str]) -> None:
        # Line tables of pieces, by index; a piece edited since is a new string (`is`).
        self._tables: dict[int, tuple[str, list[int]]] = {}
        self._pieces = pieces
        self._lengths = [len(p) for p in pieces]
        counts = [_counts(p) for p in pieces]
        self._newlines = [c[0] for c in counts]
        self._line_breaks = [c[1] for c in counts]
        self._changed()

    def _changed(self) -> None:
        self._ends: list[int] | None = None  # running totals, summed again when asked for
        self._joined: str | None = None
        self._shared: str | None = None

    def _totals(self) -> tuple[list[int], list[int], list[int]]:
        """Offsets where the pieces end, and line breaks / newlines up to each piece's end."""
        if self._ends is None:
            self._ends = list(accumulate(self._lengths))
            self._break_ends = list(accumulate(self._line_breaks))
            self._newline_ends = list(accumulate(self._newlines))
        return self._ends, self._break_ends, self._newline_ends

    # -- reading ------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """All of it (joined once per version: costs a copy of the document)."""
        if self._joined is None:
            self._joined = "".join(self._pieces)
        return self._joined

    @property
    def length(self) -> int:
        return self._totals()[0][-1]

    def read(self, start: int, end: int) -> str:
        """The text in [start, end)."""
        start, end = max(start, 0), min(end, self.length)
        if start >= end:
            return ""
        if self._joined is not None:
            return self._joined[start:end]
        first, local = self._locate(start)
        last, stop = self._locate(end)
        if first == last:
            return self._pieces[first][local:stop]
        return "".join([self._pieces[first][local:], *self._pieces[first + 1:last],
                        self._pieces[last][:stop]])

    def _locate(self, offset: int) -> tuple[int, int]:
        """(piece, offset in it) of a document offset (the last piece's end for its end)."""
        ends = self._totals()[0]
        index = min(bisect_right(ends, offset), len(ends) - 1)
        return index, offset - (ends[index - 1] if index else 0)

    def _table(self, index: int) -> list[int]:
        """Where the lines that start inside piece `index` start, relative to it."""
        piece = self._pieces[index]
        known = self._tables.get(index)
        if known is None or known[0] is not piece:
            if len(self._tables) > 64:
                self._tables.clear()
            known = self._tables[index] = (piece, _starts_in(piece))
        return known[1]

    # -- lines and positions -----------------------------------------------------------------

    @property
    def line_starts(self) -> list[int]:
        """The offset where each line starts (all of them: a pass over the whole text)."""
        ends = self._totals()[0]
        starts = [0]
        for index in range(len(self._pieces)):
            base = ends[index - 1] if index else 0
            starts += [base + at for at in self._table(index)]
        return starts

    def line_start(self, line: int) -> int | None:
        """The offset where line `line` (0-based) starts, or None past the last line."""
        if line <= 0:
            return 0
        ends, break_ends, _ = self._totals()
        if line > break_ends[-1]:
            return None
        index = bisect_left(break_ends, line)
        before = break_ends[index - 1] if index else 0
        return (ends[index - 1] if index else 0) + self._table(index)[line - before - 1]

    def line_of(self, offset: int) -> int:
        """The line (0-based) holding `offset`."""
        index, local = self._locate(max(0, min(offset, self.length)))
        before = self._totals()[1][index - 1] if index else 0
        return before + bisect_right(self._table(index), local)

    def newlines_before(self, offset: int) -> int:
        """How many \\n come before `offset` (the context engine's line numbers)."""
        index, local = self._locate(max(0, min(offset, self.length)))
        before = self._totals()[2][index - 1] if index else 0
        return before + self._pieces[index].count("\n", 0, local)

    def _content_end(self, line: int, start: int) -> int:
        """Where the content of line `line` (starting at `start`) ends, before its break."""
        following = self.line_start(line + 1)
        if following is None:
            return self.length
        return following - (2 if self.read(following - 2, following) == "\r\n"
                            and following - 2 >= start else 1)

    def line_text(self, line: int) -> str:
        """Line `line` (0-based) without its line break."""
        start = self.line_start(line)
        if start is None:
            return ""
        return self.read(start, self._content_end(line, start))

    def offset_at(self, position: types.Position, encoding: str) -> int:
        start = self.line_start(position.line)
        if start is None:
            return self.length
        # `character` code units cover at most as many characters: read no more of the line.
        end = min(self._content_end(position.line, start), start + position.character)
        return start + column_to_index(self.read(start, end), position.character, encoding)

    def position_at(self, offset: int, encoding: str) -> types.Position:
        offset = max(0, min(offset, self.length))
        line = self.line_of(offset)
        start = self.line_start(line) or 0
        if offset > start and self.read(offset - 1, offset + 1) == "\r\n":
            offset -= 1  # between \r and \n is not a position; use the end of the line
        return types.Position(line=line, character=units(self.read(start, offset), encoding))

    # -- editing ------------------------------------------------------------------------------

    def apply(self, change: types.TextDocumentContentChangeEvent, encoding: str) -> None:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start = self.offset_at(change.range.start, encoding)
            end = max(start, self.offset_at(change.range.end, encoding))
            self._replace(start, end, change.text)
            self._note_edit(min(change.range.start.line, change.range.end.line))
        else:
            self._load(_split(change.text, self._size))
            self._edits.clear()

    def _replace(self, start: int, end: int, text: str) -> None:
        """Put `text` in place of [start, end). An edit inside one piece that keeps its size
        within bounds rewrites that piece alone; any other, the pieces it touches and their
        neighbours are split again. Either way no piece is cut between \\r and \\n."""
        first, local = self._locate(start)
        last, stop = self._locate(end)
        pieces = self._pieces
        edited = pieces[first][:local] + text + pieces[last][stop:]
        if first == last and max(self._size // 4, 1) <= len(edited) <= 2 * self._size and not (
                (first > 0 and pieces[first - 1].endswith("\r") and edited.startswith("\n"))
                or (first + 1 < len(pieces) and edited.endswith("\r")
                    and pieces[first + 1].startswith("\n"))):
            low, high, new = first, first + 1, [edited]
        else:
            low, high = max(first - 1, 0), min(last + 2, len(pieces))
            joined = "".join([*pieces[low:first], edited, *pieces[last + 1:high]])
            new = _split(joined, self._size) if joined or len(pieces) == high - low else []
        pieces[low:high] = new
        counts = [_counts(p) for p in new]
        self._lengths[low:high] = [len(p) for p in new]
        self._newlines[low:high] = [c[0] for c in counts]
        self._line_breaks[low:high] = [c[1] for c in counts]
        self._changed()

    def _note_edit(self, line: int) -> None:
        """Remember where the user edits, as the context engine does (`note_edit`)."""
        if self._edits and abs(self._edits[-1] - line) < 8:
            self._edits.pop()
        self._edits.append(line)
        del self._edits[:-RECENT_EDITS]

    # -- what jobs read -----------------------------------------------------------------------

    def part(self, offset: int, end: int | None = None) -> Part:
        """What a job at `offset` (or the selection [offset, end)) reads: all of a document
        up to LARGE_DOCUMENT_CHARS; of a longer one, the part around the cursor the context
        engine reads (the same bounds as `ContextEngine.window` takes from a whole text)."""
        length = self.length
        if length <= LARGE_DOCUMENT_CHARS:
            return Part(self.text)
        low, high = slice_bounds(length, offset, offset if end is None else end, self.read)
        return Part(self.read(low, high), low, 1 + self.newlines_before(low))

    def context_text(self) -> str:
        """The text other documents' requests read: all of a document up to
        LARGE_DOCUMENT_CHARS; of a longer one, its head and the text around its recent edits
        (all that the context engine reads of a large open document), each line elsewhere
        left empty, so that every line keeps its number. Cached per version."""
        if self.length <= LARGE_DOCUMENT_CHARS:
            return self.text
        if self._shared is None:
            parts = list(self._sparse())  # gap, text, gap, text, …, gap
            short = LARGE_DOCUMENT_CHARS + 1 - sum(map(len, parts))
            # Still a large document to the context engine, which then reads only around its
            # edits (rather than every window of it): one empty line holds spaces.
            gaps = [n for n in range(2, len(parts), 2) if parts[n] and parts[n - 1][-1:] == "\n"]
            if short > 0 and gaps:
                widest = max(gaps, key=lambda n: len(parts[n]))
                parts[widest] = " " * short + parts[widest]
            self._shared = "".join(parts)
        return self._shared

    def _sparse(self) -> Iterator[str]:
        """Alternately the \\n of lines left out and the text of spans read: the head and
        around each recent edit, widened to whole lines (unless a line is far longer)."""
        spans = [(0, HEAD)]
        for line in self._edits:
            at = self.line_start(line)
            at = self.length if at is None else at
            spans.append((at - AROUND_EDIT, at + AROUND_EDIT))
        done = 0  # where the text given so far ends
        for low, high in sorted(spans):
            low, high = max(low, done), min(high, self.length)
            if high <= low:
                continue
            line_start = self.line_start(self.line_of(low)) or 0
            low = max(line_start if low - line_start <= AROUND_EDIT else low, done)
            following = self.line_start(self.line_of(high) + 1)
            following = self.length if following is None else following
            high = following if following - high <= AROUND_EDIT else high
            yield "\n" * (self.newlines_before(low) - self.newlines_before(done))
            yield self.read(low, high)
            done = high
        yield "\n" * (self.newlines_before(self.length) - self.newlines_before(done))


class Documents:
    """The documents the editor has open, by URI."""

    def __init__(self) -> None:
        self._open: dict[str, Document] = {}
        self._asked: set[str] = set()  # URIs asked for while not open

    def open(self, item: types.TextDocumentItem) -> Document:
        doc = Document(item.uri, item.text, item.version, item.language_id)
        self._open[item.uri] = doc
        self._asked.discard(item.uri)
        return doc

    def first_miss(self, uri: str) -> bool:
        """Whether this is the first request for `uri` while it is not open (one that was
        never opened, or whose didOpen was refused, e.g. as too large): say so once, not on
        every keystroke's request."""
        if uri in self._asked:
            return False
        if len(self._asked) >= 1024:
            self._asked.clear()
        self._asked.add(uri)
        return True

    def change(self, params: types.DidChangeTextDocumentParams, encoding: str) -> Document | None:
        doc = self._open.get(params.text_document.uri)
        if doc is None:
            return None
        for change in params.content_changes:
            doc.apply(change, encoding)
        doc.version = params.text_document.version
        return doc

    def close(self, uri: str) -> None:
        self._open.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        return self._open.get(uri)

    def __iter__(self) -> Iterator[Document]:
        return iter(self._open.values())
