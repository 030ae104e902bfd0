"""Open documents as the editor has them, and LSP positions ↔ string offsets.

LSP lines end at \\n, \\r\\n or \\r (nothing else: not U+2028, not form feed), and a position's
`character` counts code units of the negotiated encoding (UTF-16 unless the client offered
UTF-8 or UTF-32). A position past the end of a line means the end of that line; past the last
line, the end of the document."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from lsprotocol import types

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def units(text: str, encoding: str) -> int:
    """Length of `text` in code units of `encoding`."""
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
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


@dataclass
class Document:
    """One open document. Its line table is kept valid from the top down to the last edit
    and extended only as far as a lookup needs, so a keystroke in a file of millions of
    lines costs a rescan of the lines below the cursor at most, not of the whole text."""

    uri: str
    text: str
    version: int | None
    language_id: str = ""
    _starts: list[int] = field(default_factory=lambda: [0], repr=False)
    _scanned: bool = field(default=False, repr=False)  # _starts holds every line

    @property
    def line_starts(self) -> list[int]:
        """The offset where each line starts (all of them)."""
        self._scan(until=len(self.text) + 1)
        return self._starts

    def line_start(self, line: int) -> int | None:
        """The offset where line `line` (0-based) starts, or None past the last line."""
        if len(self._starts) <= line:
            self._scan(lines=line + 1 - len(self._starts))
        return self._starts[line] if line < len(self._starts) else None

    def line_text(self, line: int) -> str:
        """Line `line` (0-based) without its line break."""
        start = self.line_start(line)
        if start is None:
            return ""
        end = self.line_start(line + 1)
        return self.text[start:len(self.text) if end is None else end].rstrip("\r\n")

    def offset_at(self, position: types.Position, encoding: str) -> int:
        start = self.line_start(position.line)
        if start is None:
            return len(self.text)
        line = self.line_text(position.line)
        return start + column_to_index(line, position.character, encoding)

    def position_at(self, offset: int, encoding: str) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        self._scan(until=offset + 1)
        line = bisect_right(self._starts, offset) - 1
        start = self._starts[line]
        if offset > start and self.text[offset - 1:offset + 1] == "\r\n":
            offset -= 1  # between \r and \n is not a position; use the end of the line
        return types.Position(line=line, character=units(self.text[start:offset], encoding))

    def apply(self, change: types.TextDocumentContentChangeEvent, encoding: str) -> None:
        if isinstance(change, types.TextDocumentContentChangePartial):
            start = self.offset_at(change.range.start, encoding)
            end = max(start, self.offset_at(change.range.end, encoding))
            self.text = self.text[:start] + change.text + self.text[end:]
            # Line starts before the edit still hold; one at the edit itself may not (a
            # "\r" before it can meet an inserted "\n"), nor any after it.
            del self._starts[max(bisect_left(self._starts, start), 1):]
        else:
            self.text = change.text
            del self._starts[1:]
        self._scanned = False

    def _scan(self, *, lines: int | None = None, until: int | None = None) -> None:
        """Extend the line table by at least `lines` lines, or past offset `until`, or to the
        end of the text."""
        if self._scanned:
            return
        starts = self._starts
        wanted = len(starts) + lines if lines is not None else None
        for match in _LINE_BREAK.finditer(self.text, starts[-1]):
            starts.append(match.end())
            if (wanted is not None and len(starts) >= wanted) or \
                    (until is not None and match.end() >= until):
                return
        self._scanned = True


class Documents:
    """The documents the editor has open, by URI."""

    def __init__(self) -> None:
        self._open: dict[str, Document] = {}

    def open(self, item: types.TextDocumentItem) -> Document:
        doc = Document(item.uri, item.text, item.version, item.language_id)
        self._open[item.uri] = doc
        return doc

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

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._open.values())
