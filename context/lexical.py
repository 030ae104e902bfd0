"""Lexical similarity: BM25 over sliding windows of lines.

Used two ways: `similar_windows` scores the windows of a few neighbouring files against the
identifiers around the cursor (the "similar" section), and `WindowIndex` indexes a whole
workspace once (the baseline the retrieval benchmark compares against)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WINDOW_LINES = 20
STRIDE_LINES = 10
K1, B = 1.2, 0.75

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def terms(text: str) -> list[str]:
    """Identifier-like words of three characters or more, lower-cased, camelCase split too."""
    words: list[str] = []
    for word in _WORD.findall(text):
        lowered = word.lower()
        words.append(lowered)
        parts = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", word)
        if len(parts) > 1:
            words.extend(p.lower() for p in parts if len(p) > 2)
    return words


@dataclass(frozen=True, slots=True)
class Window:
    path: str
    start_line: int  # 1-based, inclusive
    end_line: int
    text: str


def windows(path: str, text: str, *, size: int = WINDOW_LINES,
            stride: int = STRIDE_LINES) -> Iterable[Window]:
    lines = text.splitlines(keepends=True)
    for start in range(0, max(len(lines) - size, 0) + 1, stride):
        chunk = lines[start:start + size]
        if any(line.strip() for line in chunk):
            yield Window(path, start + 1, start + len(chunk), "".join(chunk))


class WindowIndex:
    """BM25 over every window of a set of files, with an inverted index for fast queries."""

    def __init__(self, files: Mapping[str, str], *, size: int = WINDOW_LINES,
                 stride: int = STRIDE_LINES) -> None:
        self.windows: list[Window] = []
        self._frequencies: list[Counter[str]] = []
        self._lengths: list[int] = []
        self._postings: dict[str, list[int]] = {}
        for path, text in files.items():
            for window in windows(path, text, size=size, stride=stride):
                counts = Counter(terms(window.text))
                number = len(self.windows)
                self.windows.append(window)
                self._frequencies.append(counts)
                self._lengths.append(sum(counts.values()))
                for term in counts:
                    self._postings.setdefault(term, []).append(number)
        self._average = (sum(self._lengths) / len(self._lengths)) if self._lengths else 1.0

    def search(self, query: Iterable[str], *, top: int = 10,
               exclude_path: str | None = None) -> list[tuple[float, Window]]:
        scores: dict[int, float] = {}
        total = len(self.windows)
        for term in set(query):
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (total - len(posting) + 0.5) / (len(posting) + 0.5))
            for number in posting:
                frequency = self._frequencies[number][term]
                norm = K1 * (1 - B + B * self._lengths[number] / self._average)
                scores[number] = scores.get(number, 0.0) + idf * frequency * (K1 + 1) / (
                    frequency + norm)
        ranked = sorted(scores.items(), key=lambda item: -item[1])
        found: list[tuple[float, Window]] = []
        for number, score in ranked:
            window = self.windows[number]
            if window.path == exclude_path:
                continue
            found.append((score, window))
            if len(found) >= top:
                break
        return found


def similar_windows(query: Iterable[str], files: Mapping[str, str], *,
                    top: int = 3) -> list[tuple[float, Window]]:
    """The windows of `files` most like `query` (BM25), best first."""
    return WindowIndex(files).search(query, top=top)
