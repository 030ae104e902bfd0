"""Typing through ghost text costs nothing: when the user types exactly what the last
suggestion said, the rest of that suggestion is still the answer, without asking a model.

Offsets are into the text a job's snapshot holds (for a huge document, the part around the
cursor, which moves on a coarse grid): an entry is only ever used when the text around it is
the same, so a part that moved makes a miss, never a wrong answer. Every check reads a few
kilobytes around the cursor, whatever the document's size."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# How much text around the cursor must be unchanged for a remembered suggestion to still hold.
PREFIX_CHECK = 4096
SUFFIX_CHECK = 1024


@dataclass(frozen=True)
class Remembered:
    offset: int
    before: str  # up to PREFIX_CHECK characters before the cursor
    after: str  # up to SUFFIX_CHECK characters after it
    text: str


class CompletionCache:
    def __init__(self, size: int = 64) -> None:
        self._entries: OrderedDict[str, Remembered] = OrderedDict()
        self._size = size

    def remember(self, key: str, document: str, offset: int, text: str) -> None:
        self._entries[key] = Remembered(offset, _before(document, offset),
                                        document[offset:offset + SUFFIX_CHECK], text)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def recall(self, key: str, document: str, offset: int) -> str | None:
        """The rest of the remembered suggestion for `key` if the user typed into it."""
        entry = self._entries.get(key)
        # Typed-through means fewer characters than the suggestion had: checked before any
        # slicing, so a cursor far from the remembered one costs nothing, however long the
        # document (a slice from there to here once copied megabytes per request).
        if entry is None or not entry.offset <= offset < entry.offset + len(entry.text):
            return None
        typed = document[entry.offset:offset]
        if not (len(typed) < len(entry.text) and entry.text.startswith(typed)):
            return None
        if _before(document, entry.offset) != entry.before:
            return None
        if document[offset:offset + SUFFIX_CHECK] != entry.after[: SUFFIX_CHECK]:
            return None
        return entry.text[len(typed):]


def _before(document: str, offset: int) -> str:
    return document[max(0, offset - PREFIX_CHECK):offset]
