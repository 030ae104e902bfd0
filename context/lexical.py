"""Lexical similarity: BM25 over sliding windows of lines.

Used two ways: `counted_file` + `best_windows` score the windows of a few neighbouring files
against the identifiers around the cursor (the "similar" and "open" sections; each file's
windows are term-counted once per version and reused), and `WindowIndex` indexes a whole
workspace once (the baseline the retrieval benchmark compares against)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

WINDOW_LINES = 20
STRIDE_LINES = 10
K1, B = 1.2, 0.75

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@lru_cache(maxsize=200_000)
def _word_terms(word: str) -> tuple[str, ...]:
    """A word's terms: itself lower-cased, and its camelCase parts of three letters or more."""
    lowered = word.lower()
    if word.islower() or word.isupper():
        return (lowered,)
    parts = [p.lower() for p in _CAMEL_PART.findall(word) if len(p) > 2]
    return (lowered, *parts) if len(parts) > 1 else (lowered,)


def terms(text: str) -> list[str]:
    """Identifier-like words of three characters or more, lower-cased, camelCase parts too."""
    return [term for word in _WORD.findall(text) for term in _word_terms(word)]


def term_counts(text: str) -> Counter[str]:
    """`Counter(terms(text))`, counting each distinct word once in Python: this runs over
    every window of every neighbouring file."""
    counts: Counter[str] = Counter()
    for word, times in Counter(_WORD.findall(text)).items():
        for term in _word_terms(word):
            counts[term] += times
    return counts


@dataclass(frozen=True, slots=True)
class Window:
    path: str
    start_line: int  # 1-based, inclusive
    end_line: int
    text: str


@dataclass(frozen=True, slots=True)
class CountedWindow:
    window: Window
    counts: Counter[str]
    length: int


@dataclass(frozen=True, slots=True)
class CountedFile:
    """A file's windows with their term counts; which windows hold each term (`postings`)
    and how often (`frequencies`, in the same order); the sum of the windows' lengths."""

    windows: tuple[CountedWindow, ...]
    postings: dict[str, list[int]]
    frequencies: dict[str, list[int]]
    length: int


def windows(path: str, text: str, *, size: int = WINDOW_LINES,
            stride: int = STRIDE_LINES) -> Iterable[Window]:
    """Windows of `size` lines every `stride` lines, the last reaching the end; blank ones
    are skipped."""
    return _windows_of(path, text.splitlines(keepends=True), size, stride)


def _windows_of(path: str, lines: list[str], size: int, stride: int,
                first_line: int = 1) -> Iterable[Window]:
    starts = list(range(0, max(len(lines) - size, 0) + 1, stride))
    if starts[-1] + size < len(lines):  # a last, shorter window so the file's end is in one
        starts.append(starts[-1] + stride)
    for start in starts:
        chunk = lines[start:start + size]
        if any(line.strip() for line in chunk):
            yield Window(path, start + first_line, start + first_line + len(chunk) - 1,
                         "".join(chunk))


def counted_file(path: str, text: str, *, first_line: int = 1) -> CountedFile:
    """Term counts of a file's windows: computed once per file version. Windows overlap by
    whole strides, so each stride of lines is counted once and a window's counts are the sum
    of its strides' (words never span lines): half the tokenizing of counting each window.
    `first_line`: the line number of `text`'s first line (it may be a part of the file)."""
    lines = text.splitlines(keepends=True)
    strides = [term_counts("".join(lines[start:start + STRIDE_LINES]))
               for start in range(0, len(lines), STRIDE_LINES)]
    per_window = WINDOW_LINES // STRIDE_LINES
    counted = []
    postings: dict[str, list[int]] = {}
    frequencies: dict[str, list[int]] = {}
    for number, window in enumerate(_windows_of(path, lines, WINDOW_LINES, STRIDE_LINES,
                                                first_line)):
        first = (window.start_line - first_line) // STRIDE_LINES
        counts = strides[first].copy()
        for following in strides[first + 1:first + per_window]:
            counts.update(following)
        counted.append(CountedWindow(window, counts, sum(counts.values())))
        for term, times in counts.items():
            if (known := postings.get(term)) is None:
                postings[term], frequencies[term] = [number], [times]
            else:
                known.append(number)
                frequencies[term].append(times)
    return CountedFile(tuple(counted), postings, frequencies, sum(w.length for w in counted))


# counted_file sums whole strides: a window must be made of them.
assert WINDOW_LINES % STRIDE_LINES == 0


def best_windows(query: Iterable[str], files: Sequence[CountedFile], *,
                 top: int = 3) -> list[tuple[float, Window]]:
    """BM25 of the windows of `files` against `query`, best first (ties: the earlier file and
    window). Term at a time over the postings of the query's terms: the cost is the postings
    read, never a pass over every window."""
    total = sum(len(f.windows) for f in files)
    if not total:
        return []
    average = sum(f.length for f in files) / total or 1.0
    idf: dict[str, float] = {}
    for term in dict.fromkeys(query):
        if n := sum(len(f.postings.get(term, ())) for f in files):
            idf[term] = math.log(1 + (total - n + 0.5) / (n + 0.5))
    scored: list[tuple[float, int, int, Window]] = []
    for order, file in enumerate(files):
        scores: dict[int, float] = {}
        counted = file.windows
        for term, weight in idf.items():
            numbers = file.postings.get(term)
            if not numbers:
                continue
            for number, times in zip(numbers, file.frequencies[term], strict=True):
                norm = K1 * (1 - B + B * counted[number].length / average)
                scores[number] = scores.get(number, 0.0) + \
                    weight * times * (K1 + 1) / (times + norm)
        scored.extend((score, order, number, counted[number].window)
                      for number, score in scores.items())
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(score, window) for score, _, _, window in scored[:top]]


def squash(score: float) -> float:
    """BM25 scores are unbounded; map them to (0, 1)."""
    return 1 - math.exp(-score / 10)


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
                counts = term_counts(window.text)
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
