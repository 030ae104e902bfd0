"""Typing through ghost text: the rest of the last suggestion, without asking a model."""

from __future__ import annotations

import pytest

from deskmate.server.jobs.cache import PREFIX_CHECK, SUFFIX_CHECK, CompletionCache

BEFORE = "def add(a, b):\n    "
AFTER = "\n\nprint(add(1, 2))\n"
SUGGESTION = "return a + b"
KEY = "file:///add.py"


def remembered() -> CompletionCache:
    cache = CompletionCache()
    cache.remember(KEY, BEFORE + AFTER, len(BEFORE), SUGGESTION)
    return cache


def typed(text: str, *, before: str = BEFORE, after: str = AFTER) -> tuple[str, int]:
    """The document and cursor after the user typed `text` at the remembered cursor."""
    return before + text + after, len(before) + len(text)


@pytest.mark.parametrize(("text", "rest"), [
    ("", "return a + b"),
    ("r", "eturn a + b"),
    ("return ", "a + b"),
    ("return a + ", "b"),
])
def test_typing_a_prefix_of_the_suggestion_recalls_the_rest(text: str, rest: str) -> None:
    assert remembered().recall(KEY, *typed(text)) == rest


@pytest.mark.parametrize("text", ["x", "return b", "Return", "return a + b", "return a + b;"])
def test_diverging_or_finishing_the_suggestion_misses(text: str) -> None:
    assert remembered().recall(KEY, *typed(text)) is None


@pytest.mark.parametrize(("before", "after"), [
    ("def add(a, c):\n    ", AFTER),  # text before the cursor changed
    ("def add(a, b):\n", AFTER),  # the indentation was deleted
    (BEFORE, "\n\nprint(add(2, 2))\n"),  # text after the cursor changed
    (BEFORE, ""),
])
def test_changes_around_the_cursor_miss(before: str, after: str) -> None:
    assert remembered().recall(KEY, *typed("ret", before=before, after=after)) is None


def test_moving_the_cursor_back_misses() -> None:
    document, _ = typed("")
    assert remembered().recall(KEY, document, len(BEFORE) - 1) is None


def test_each_document_has_its_own_entry() -> None:
    cache = remembered()
    assert cache.recall("file:///other.py", *typed("ret")) is None
    cache.remember(KEY, BEFORE + AFTER, len(BEFORE), "return sum((a, b))")
    assert cache.recall(KEY, *typed("return s")) == "um((a, b))"


def test_only_text_near_the_cursor_is_compared() -> None:
    far_before = "x" * PREFIX_CHECK
    far_after = "y" * SUFFIX_CHECK
    cache = CompletionCache()
    document = "# old header\n" + far_before + far_after + "# old footer\n"
    cache.remember(KEY, document, len("# old header\n") + PREFIX_CHECK, "zz")

    # Same length as before the cursor (the cache remembers an offset), different text.
    edited = "# new header\n" + far_before + "z" + far_after + "# new footer, longer\n"
    assert cache.recall(KEY, edited, len("# new header\n") + PREFIX_CHECK + 1) == "z"
    changed_near = "# new header\n" + "w" + far_before[1:] + "z" + far_after
    assert cache.recall(KEY, changed_near, len("# new header\n") + PREFIX_CHECK + 1) is None


def test_the_oldest_entries_are_forgotten() -> None:
    cache = CompletionCache(size=2)
    for key in ("a", "b", "a", "c"):  # "a" is used again, so "b" is the oldest
        cache.remember(key, BEFORE + AFTER, len(BEFORE), SUGGESTION)
    hits = {key: cache.recall(key, *typed("re")) for key in ("a", "b", "c")}
    assert hits == {"a": "turn a + b", "b": None, "c": "turn a + b"}
