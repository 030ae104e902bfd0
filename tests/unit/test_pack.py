"""Packing the cursor's surroundings into a token budget."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskmate.context.budget import count_tokens
from deskmate.context.pack import PackedContext, Section, pack_cursor

CODE = """\
import os


def main(argv):
    path = os.path.join(argv[0], "é中😀")
    with open(path) as f:
        return f.read()


if __name__ == "__main__":
    main(["x"])
"""


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail, rather than hang the suite, if packing loops forever (it once did, on any cursor
    line longer than the budget)."""
    def give_up(signum: int, frame: object) -> None:
        raise TimeoutError("pack_cursor did not return within 60 s")
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def check_invariants(text: str, offset: int, budget: int, packed: PackedContext) -> None:
    """What must hold for every packing, checked against the text itself."""
    prefix, suffix = packed.prefix, packed.suffix
    assert packed.middle == ""  # a cursor, no selection
    offset = max(0, min(offset, len(text)))
    # Within budget, by an independent count of what is actually sent; the packer's own count
    # (per-line sums) may only overestimate it.
    assert count_tokens(prefix) + count_tokens(suffix) <= packed.tokens <= budget
    assert packed.budget == budget
    # The cursor is exactly where prefix and suffix meet.
    assert text[:offset].endswith(prefix)
    assert text[offset:].startswith(suffix)

    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end + 1
    start, end = offset - len(prefix), offset + len(suffix)
    # Away from the cursor line, cuts fall at line boundaries.
    assert start >= line_start or start == 0 or text[start - 1] == "\n"
    assert not suffix or end >= line_end
    assert end == len(text) or text[end - 1] == "\n" or not suffix

    # Sections: 1-based, inclusive line ranges of exactly the text included.
    prefix_section, suffix_section = packed.sections
    cursor_line = text.count("\n", 0, offset) + 1
    assert prefix_section == Section(
        kind="prefix", path="a/b.py", start_line=text.count("\n", 0, start) + 1,
        end_line=cursor_line, tokens=prefix_section.tokens, score=prefix_section.score,
        reason=prefix_section.reason, included=True)
    assert count_tokens(prefix) <= prefix_section.tokens
    assert suffix_section.kind == "suffix"
    assert suffix_section.start_line == cursor_line
    assert suffix_section.included == bool(suffix)
    assert count_tokens(suffix) <= suffix_section.tokens
    assert prefix_section.tokens + suffix_section.tokens == packed.tokens
    if suffix:
        assert suffix_section.end_line == text.count("\n", 0, end - 1) + 1


def pack(text: str, offset: int, budget: int) -> PackedContext:
    packed = pack_cursor(text, offset, budget=budget, path="a/b.py")
    check_invariants(text, offset, budget, packed)
    return packed


# --------------------------------------------------------------------------- examples


def test_a_large_budget_sends_the_whole_file() -> None:
    offset = CODE.index("f.read()")

    packed = pack(CODE, offset, 100_000)

    assert (packed.prefix, packed.suffix) == (CODE[:offset], CODE[offset:])
    assert (packed.sections[0].start_line, packed.sections[0].end_line) == (1, 7)
    assert (packed.sections[1].start_line, packed.sections[1].end_line) == (7, 11)


def test_a_small_budget_keeps_the_nearest_whole_lines() -> None:
    offset = CODE.index("f.read()")

    packed = pack(CODE, offset, 30)

    # The 16-token line 5 does not fit, so nothing above it is sent either.
    assert packed.prefix == "    with open(path) as f:\n        return "
    assert packed.suffix == "f.read()\n\n\n"
    assert (packed.sections[0].start_line, packed.sections[1].end_line) == (6, 9)


def test_a_cursor_line_longer_than_the_budget_is_cut_at_its_far_end() -> None:
    text = "first line\n" + "value = compute(" + "argument, " * 200
    packed = pack(text, len(text), 30)

    assert packed.prefix == ", " + "argument, " * 14  # the last 30 tokens, nothing above
    assert packed.tokens == 30
    assert packed.sections[0].start_line == 2


@pytest.mark.parametrize("offset", [0, 5, len(CODE)])
def test_a_zero_budget_sends_nothing(offset: int) -> None:
    packed = pack(CODE, offset, 0)
    assert (packed.prefix, packed.suffix, packed.tokens) == ("", "", 0)


@pytest.mark.parametrize(("offset", "expected"), [(-10, 0), (10**9, len(CODE))])
def test_an_offset_outside_the_text_is_clamped(offset: int, expected: int) -> None:
    packed = pack_cursor(CODE, offset, budget=100_000, path="a/b.py")
    assert (packed.prefix, packed.suffix) == (CODE[:expected], CODE[expected:])


def test_special_token_text_is_counted_as_plain_text() -> None:
    text = 'EOT = "<|endoftext|>"\nprint(EOT)  # <|endoftext|>\n'
    offset = text.index("print")

    packed = pack(text, offset, 1000)

    assert (packed.prefix, packed.suffix) == (text[:offset], text[offset:])
    # As text, "<|endoftext|>" is several ordinary tokens, not the one special token.
    assert count_tokens("<|endoftext|>") > 1
    assert packed.tokens == count_tokens(text[:offset]) + count_tokens(text[offset:])


def test_a_multibyte_character_is_never_split_at_the_cut() -> None:
    text = "x = 1\n\n" + "😀" * 40  # a blank line (one token) above the cursor line
    for budget in range(1, 12):
        packed = pack(text, len(text), budget)
        assert "\ufffd" not in packed.prefix
        assert set(packed.prefix) <= {"😀"}


def test_a_real_replacement_character_at_the_cursor_is_kept() -> None:
    text = "s = '" + "abc " * 50 + "\ufffd"
    packed = pack(text, len(text), 10)
    assert packed.prefix.endswith("abc \ufffd")


@pytest.mark.parametrize(
    "where",
    ["cursor in the middle", "cursor at the start", "long line above", "long line below"],
)
def test_a_five_megabyte_line_is_packed_within_budget(where: str) -> None:
    huge = "x = [" + "12345, " * 750_000 + "]"
    if where == "cursor in the middle":
        text, offset = huge, len(huge) // 2
    elif where == "cursor at the start":
        text, offset = huge, 0
    elif where == "long line above":
        text = huge + "\ndef f():\n    return "
        offset = len(text)
    else:
        text, offset = "def f():\n    return \n" + huge + "\n", 20
    budget = 2000

    packed = pack(text, offset, budget)

    assert packed.tokens <= budget
    if where == "long line above":
        assert packed.prefix == "def f():\n    return "
    if where == "long line below":
        assert packed.prefix == "def f():\n    return "
        assert packed.suffix == "\n"


# --------------------------------------------------------------------------- properties

LINES = st.lists(
    st.one_of(
        st.text(alphabet=st.sampled_from("ab (){}:;=.,\t'\"é中😀𝔘"), max_size=30),
        st.sampled_from(["", "    return x", "<|endoftext|>", "def f(a, b):", "}", "\r",
                         "\ufffd", "x" * 300, "😀" * 30, "é中" * 40]),
        st.text(st.characters(codec="utf-8"), max_size=20),  # any code point but surrogates
    ),
    max_size=25,
)
TEXTS = LINES.map("\n".join)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=TEXTS, budget=st.integers(min_value=0, max_value=120))
def test_packing_respects_budget_and_cursor(data: st.DataObject, text: str, budget: int) -> None:
    offset = data.draw(st.integers(min_value=0, max_value=len(text)), label="offset")
    pack(text, offset, budget)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), text=TEXTS)
def test_a_budget_that_fits_everything_sends_everything(data: st.DataObject, text: str) -> None:
    offset = data.draw(st.integers(min_value=0, max_value=len(text)), label="offset")
    # The suffix may take a quarter of what the cursor line before the cursor leaves.
    budget = 8 * (count_tokens(text) + 10)

    packed = pack(text, offset, budget)

    assert (packed.prefix, packed.suffix) == (text[:offset], text[offset:])
