"""Lexical windows: the per-stride counting gives exactly the counts of each window's text, and
the term-at-a-time BM25 the scores of the textbook formula."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from deskmate.context.lexical import K1, B, best_windows, counted_file, term_counts

LINES = st.lists(st.sampled_from([
    "def computeTotal(items, tax):\n", "    return subtotal * (1 + tax)\n", "\n", "   \n",
    "HTTP_STATUS = parseHTTPResponse(raw)\n", "x = y\n", "class OrderBook:\n",
    "    '''Orders, by price.'''\n"]), max_size=75)


@settings(max_examples=200)
@given(lines=LINES, last=st.sampled_from(["", "tail_without_newline", "\r\n"]))
def test_each_window_counts_the_terms_of_its_own_text(lines: list[str], last: str) -> None:
    text = "".join(lines) + last
    counted = counted_file("a.py", text)
    for window in counted.windows:
        assert window.counts == term_counts(window.window.text), window.window
        assert window.length == sum(window.counts.values())
    for term, numbers in counted.postings.items():
        assert numbers == [n for n, w in enumerate(counted.windows) if term in w.counts]
        assert counted.frequencies[term] == [counted.windows[n].counts[term] for n in numbers]
    assert counted.length == sum(w.length for w in counted.windows)


def test_the_window_that_shares_the_query_terms_ranks_first() -> None:
    text = "".join(f"filler_{i} = {i}\n" for i in range(40)) + \
        "def compute_total(items, tax):\n    return subtotal_of(items) * tax\n"
    [(_, best)] = best_windows(["compute_total", "subtotal_of"], [counted_file("a.py", text)],
                               top=1)
    assert best.end_line >= 41
    assert "compute_total" in best.text


@given(lines=LINES)
def test_every_line_is_in_some_window(lines: list[str]) -> None:
    text = "".join(f"{i}{line}" for i, line in enumerate(lines))
    counted = counted_file("a.py", text)
    covered = {n for w in counted.windows
               for n in range(w.window.start_line, w.window.end_line + 1)}
    blank = {n for n, line in enumerate(text.splitlines(), start=1) if not line.strip()}
    assert set(range(1, len(lines) + 1)) - blank <= covered


def bm25(query: list[str], texts: dict[str, str]) -> list[tuple[float, str, int]]:
    """The textbook formula, window by window: (score, path, start line), best first."""
    files = [counted_file(path, text) for path, text in texts.items()]
    every = [(path, w) for path, f in zip(texts, files, strict=True) for w in f.windows]
    if not every:
        return []
    average = sum(w.length for _, w in every) / len(every)
    scored = []
    for path, window in every:
        score = 0.0
        for term in dict.fromkeys(query):
            n = sum(term in w.counts for _, w in every)
            if n and term in window.counts:
                idf = math.log(1 + (len(every) - n + 0.5) / (n + 0.5))
                tf = window.counts[term]
                score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * window.length / average))
        if score:
            scored.append((score, path, window.window.start_line))
    return sorted(scored, key=lambda s: -s[0])


@settings(max_examples=100)
@given(first=LINES, second=LINES, query=st.lists(st.sampled_from(
    ["computetotal", "subtotal", "tax", "orderbook", "http_status", "parsehttpresponse",
     "response", "missing"]), max_size=6))
def test_best_windows_scores_as_the_formula_does(first: list[str], second: list[str],
                                                  query: list[str]) -> None:
    texts = {"a.py": "".join(first), "b.py": "".join(second)}
    expected = bm25(query, texts)
    found = best_windows(query, [counted_file(p, t) for p, t in texts.items()], top=100)

    assert len(found) == len(expected)
    for (score, _), (want, _, _) in zip(found, expected, strict=True):
        assert math.isclose(score, want, rel_tol=1e-9)
    # Ties go to the earlier file and window.
    ranked = [(s, ("a.py", "b.py").index(w.path), w.start_line) for s, w in found]
    for before, after in itertools.pairwise(ranked):
        assert before[0] > after[0] or before[1:] < after[1:]


def test_a_part_of_a_file_is_counted_with_the_files_line_numbers() -> None:
    text = "".join(f"line_{n} = {n}\n" for n in range(1, 41))
    part = counted_file("a.py", text, first_line=101)
    whole = counted_file("a.py", text)

    assert [(w.window.start_line, w.window.end_line) for w in part.windows] == [
        (w.window.start_line + 100, w.window.end_line + 100) for w in whole.windows]
    assert [w.window.text for w in part.windows] == [w.window.text for w in whole.windows]
