"""Lexical windows: the per-stride counting gives exactly the counts of each window's text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deskmate.context.lexical import best_windows, counted_file, term_counts

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
