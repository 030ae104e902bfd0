"""Pack the cursor's surroundings into a token budget.

The prefix (text before the cursor) is worth most, then the suffix; both are cut at line
boundaries so the model never sees half a token of the far end. Every section carries its path
and 1-based inclusive line range, so a user can see exactly what was sent and why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from deskmate.context.budget import count_line_tokens, count_tokens, encoding

# Share of the budget the suffix may take when the prefix could use all of it.
SUFFIX_SHARE = 0.25


@dataclass(frozen=True, kw_only=True)
class Section:
    kind: str  # prefix | suffix | definition | outline | recent | open | similar
    path: str
    start_line: int
    end_line: int
    tokens: int
    score: float
    reason: str
    included: bool


@dataclass(frozen=True, kw_only=True)
class PackedContext:
    prefix: str
    suffix: str
    tokens: int
    budget: int
    sections: tuple[Section, ...]


def pack_cursor(text: str, offset: int, *, budget: int, path: str) -> PackedContext:
    """Prefix and suffix around `offset` (an index into `text`) within `budget` tokens."""
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line_end = len(text) if line_end < 0 else line_end + 1
    cursor_line = text.count("\n", 0, offset) + 1

    # The cursor line before the cursor is always kept (its far end cut if the line alone is
    # over budget); the rest of the cursor line is kept when it fits.
    head = _keep_tokens(text[line_start:offset], budget, from_end=True)
    tail = text[offset:line_end]
    used = count_tokens(head)

    suffix_allowance = max(int((budget - used) * SUFFIX_SHARE), 0)
    tail_tokens = count_tokens(tail) if len(tail) <= suffix_allowance * _MAX_CHARS_PER_TOKEN else 0
    suffix_lines: list[str] = []
    suffix_used = 0
    if tail and 0 < tail_tokens <= suffix_allowance:
        suffix_lines.append(tail)
        suffix_used = tail_tokens
        for line in _lines_forward(text, line_end):
            cost = _line_cost(line, suffix_allowance - suffix_used)
            if suffix_used + cost > suffix_allowance:
                break
            suffix_lines.append(line)
            suffix_used += cost

    prefix_lines: list[str] = []
    prefix_used = used
    for line in _lines_backward(text, line_start):
        cost = _line_cost(line, budget - prefix_used - suffix_used)
        if prefix_used + cost + suffix_used > budget:
            break
        prefix_lines.append(line)
        prefix_used += cost
    prefix_lines.reverse()

    prefix = "".join(prefix_lines) + head
    suffix = "".join(suffix_lines)
    # Per-line counts can differ from the count of the joined text by a token at line joins;
    # the joined count is the truth, so trim the far ends until it fits.
    total = count_tokens(prefix) + count_tokens(suffix)
    while total > budget and (prefix_lines or suffix_lines):
        if suffix_lines and (len(suffix_lines) > 1 or not prefix_lines):
            suffix_lines.pop()
        else:
            prefix_lines.pop(0)
        prefix = "".join(prefix_lines) + head
        suffix = "".join(suffix_lines)
        total = count_tokens(prefix) + count_tokens(suffix)

    prefix_first = cursor_line - len(prefix_lines)
    suffix_last = cursor_line + max(len(suffix_lines) - 1, 0)
    sections = (
        Section(kind="prefix", path=path, start_line=prefix_first, end_line=cursor_line,
                tokens=count_tokens(prefix), score=1.0, reason="text before the cursor",
                included=True),
        Section(kind="suffix", path=path, start_line=cursor_line, end_line=suffix_last,
                tokens=count_tokens(suffix), score=0.9, reason="text after the cursor",
                included=bool(suffix_lines)),
    )
    return PackedContext(prefix=prefix, suffix=suffix, tokens=total, budget=budget,
                         sections=sections)


# No cl100k token is longer than this many characters in practice; it bounds the text worth
# handing to the tokenizer when only its last (or first) N tokens can be used.
_MAX_CHARS_PER_TOKEN = 16


def _line_cost(line: str, room: int) -> int:
    """Tokens in `line`, or just "more than `room`" when its length alone proves it."""
    if len(line) > (room + 1) * _MAX_CHARS_PER_TOKEN:
        return room + 1
    return count_line_tokens(line)


def _keep_tokens(text: str, limit: int, *, from_end: bool) -> str:
    """At most `limit` tokens of `text`, from its end (or start), without tokenizing all of it."""
    window = limit * _MAX_CHARS_PER_TOKEN
    if len(text) > window:
        text = text[-window:] if from_end else text[:window]
    tokens = encoding().encode(text, disallowed_special=())
    while len(tokens) > limit:
        kept = tokens[-limit:] if from_end else tokens[:limit]
        # A cut can split a multi-byte character; drop the broken piece rather than send U+FFFD.
        text = encoding().decode(kept).strip("\ufffd")
        tokens = encoding().encode(text, disallowed_special=())
        limit -= 1
    return text


def _lines_backward(text: str, end: int) -> Iterator[str]:
    """Whole lines ending at `end` (exclusive), nearest first, each with its newline."""
    while end > 0:
        start = text.rfind("\n", 0, end - 1) + 1
        yield text[start:end]
        end = start


def _lines_forward(text: str, start: int) -> Iterator[str]:
    """Whole lines from `start`, nearest first, each with its newline (the last may lack one)."""
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end

