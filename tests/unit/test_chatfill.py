"""The chat fill-in filter keeps only the code a chat model put between <completion> tags.

A stream can be cut anywhere: the same answer must give the same text whichever way the
network split it. So every answer is fed split at every character boundary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deskmate.prompts.render import Message
from deskmate.server.backends.base import FimRequest
from deskmate.server.backends.chatfill import CompletionTagFilter, fill_in_messages


def run(pieces: list[str], *, prefilled: bool = False) -> tuple[str, bool]:
    """Feed the pieces in order, then flush as the backend does when the stream ends."""
    tags = CompletionTagFilter(prefilled=prefilled)
    text = "".join(tags.feed(piece) for piece in pieces)
    done = tags.done
    return text + tags.flush(), done


def splits(answer: str) -> Iterator[list[str]]:
    """The answer whole, one character at a time, and cut in two and in three everywhere."""
    yield [answer]
    yield list(answer)
    for i in range(len(answer) + 1):
        yield [answer[:i], answer[i:]]
        for j in range(i, len(answer) + 1):
            yield [answer[:i], answer[i:j], answer[j:]]


# answer as the model streamed it -> (text to insert, whether the closing tag was seen)
ANSWERS: dict[str, tuple[str, bool]] = {
    "<completion>foo()</completion>": ("foo()", True),
    "<completion>foo()</completion>\nHope this helps!": ("foo()", True),
    "  \n<completion>return x</completion>": ("return x", True),
    "<completion></completion>": ("", True),
    "<completion>if a < b and c </ d: pass</completion>": ("if a < b and c </ d: pass", True),
    "<completion>x = `cmd`\ny = ``</completion>": ("x = `cmd`\ny = ``", True),
    "<completion>s = '\n``not a fence``\n'</completion>": ("s = '\n``not a fence``\n'", True),
    "<completion>```python\nfoo()\n```</completion>": ("foo()", True),
    "<completion>```\nfoo()\nbar()\n```\n</completion>": ("foo()\nbar()", True),
    "```python\nfoo()\n```": ("foo()", False),
    "```python\nfoo()\n```\n": ("foo()", False),
    "foo()": ("foo()", False),
    "    return total\n": ("    return total\n", False),
    "<div>": ("<div>", False),
}

# answers to a prompt whose assistant turn was prefilled with "<completion>"
PREFILLED: dict[str, tuple[str, bool]] = {
    "foo()</completion>": ("foo()", True),
    "foo()": ("foo()", False),
    "\n    return x\n</completion>": ("\n    return x\n", True),
    "```python\nfoo()\n```</completion>": ("foo()", True),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_the_same_answer_gives_the_same_text_however_it_was_split(answer: str) -> None:
    expected = ANSWERS[answer]
    results = {tuple(pieces): run(pieces) for pieces in splits(answer)}
    wrong = {pieces: got for pieces, got in results.items() if got != expected}
    assert not wrong, f"expected {expected!r}; first wrong split: {next(iter(wrong.items()))}"


@pytest.mark.parametrize("answer", list(PREFILLED))
def test_prefilled_answers_give_the_same_text_however_split(answer: str) -> None:
    expected = PREFILLED[answer]
    results = {tuple(pieces): run(pieces, prefilled=True) for pieces in splits(answer)}
    wrong = {pieces: got for pieces, got in results.items() if got != expected}
    assert not wrong, f"expected {expected!r}; first wrong split: {next(iter(wrong.items()))}"


def test_done_turns_true_exactly_at_the_closing_tag() -> None:
    answer = "<completion>foo()</completion> trailing chatter"
    tags = CompletionTagFilter()
    flags = []
    for char in answer:
        tags.feed(char)
        flags.append(tags.done)

    closing_tag_end = answer.index("</completion>") + len("</completion>") - 1
    assert flags.index(True) == closing_tag_end
    assert all(flags[closing_tag_end:])


def test_nothing_comes_out_after_the_closing_tag() -> None:
    tags = CompletionTagFilter()

    assert tags.feed("<completion>a</completion>b") == "a"
    assert tags.feed("more text") == ""
    assert tags.flush() == ""
    assert tags.done


def test_a_possible_closing_tag_is_held_back_until_it_is_decided() -> None:
    tags = CompletionTagFilter(prefilled=True)

    assert tags.feed("x = 1 </compl") == "x = 1 "
    assert tags.feed("ex>") == "</complex>"
    assert not tags.done


# --------------------------------------------------------------------------- the prompt

def test_fill_in_messages_put_the_cursor_between_prefix_and_suffix() -> None:
    request = FimRequest(prefix="def f():\n    ", suffix="\n", path="a/b.py", language="python")
    system, user = fill_in_messages(request)

    assert system.role == "system"
    assert user == Message("user", "File `a/b.py` (python):\n\ndef f():\n    <CURSOR>\n")


def test_fill_in_messages_name_an_untitled_buffer_and_unknown_language() -> None:
    _, user = fill_in_messages(FimRequest(prefix="x = ", suffix=""))

    assert user.content == "File `untitled` (text):\n\nx = <CURSOR>"


def test_fill_in_messages_keep_template_syntax_in_code_literal() -> None:
    request = FimRequest(prefix="{{path}}", suffix="{{prefix}}", path="p.txt", language="text")
    _, user = fill_in_messages(request)

    assert user.content == "File `p.txt` (text):\n\n{{path}}<CURSOR>{{prefix}}"
