"""Open documents, parsed as they change: each request re-parses only what the edits touched
(tree-sitter's incremental parse), finding the edit by comparing the new text with the last."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tree_sitter import Point, Tree

from deskmate.context.languages import parser_for


@dataclass
class _Parsed:
    source: bytes
    tree: Tree


class LiveTrees:
    """The latest tree of each open document, keyed by path. Safe from several threads: the
    map has a lock, a tree handed out is never changed afterwards, and each thread parses
    with its own parser (`parser_for`)."""

    def __init__(self, size: int = 32) -> None:
        self._parsed: dict[str, _Parsed] = {}
        self._size = size
        self._lock = threading.Lock()

    def parse(self, path: str, language: str, source: bytes) -> Tree:
        with self._lock:
            previous = self._parsed.pop(path, None)
        parser = parser_for(language)
        if previous is not None and previous.source == source:
            tree = previous.tree
        elif previous is not None:
            # Another thread may still be reading the tree it was given: edit a copy (cheap:
            # the copy shares the nodes until the parse replaces what changed).
            old_tree = previous.tree.copy()
            start, old_end, new_end = _changed_span(previous.source, source)
            old_tree.edit(
                start_byte=start, old_end_byte=old_end, new_end_byte=new_end,
                start_point=_point(previous.source, start),
                old_end_point=_point(previous.source, old_end),
                new_end_point=_point(source, new_end),
            )
            tree = parser.parse(source, old_tree)
        else:
            tree = parser.parse(source)
        with self._lock:
            self._parsed[path] = _Parsed(source, tree)
            while len(self._parsed) > self._size:
                self._parsed.pop(next(iter(self._parsed)))
        return tree

    def forget(self, path: str) -> None:
        with self._lock:
            self._parsed.pop(path, None)


def _changed_span(old: bytes, new: bytes) -> tuple[int, int, int]:
    """(start, old_end, new_end): the smallest span that differs, as byte offsets."""
    start = _common_prefix(old, new)
    limit = min(len(old), len(new)) - start
    tail = _common_suffix(old, new, limit)
    return start, len(old) - tail, len(new) - tail


def _common_prefix(a: bytes, b: bytes) -> int:
    # Binary search on slice equality: memcmp speed instead of a Python loop per byte.
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle:] == b[len(b) - middle:]:
            low = middle
        else:
            high = middle - 1
    return low


def _point(source: bytes, offset: int) -> Point:
    row = source.count(b"\n", 0, offset)
    column = offset - (source.rfind(b"\n", 0, offset) + 1)
    return Point(row, column)
