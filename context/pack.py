"""Pack the cursor's surroundings into a token budget.

The prefix (text before the cursor) is worth most, then the suffix; both are cut at line
boundaries so the model never sees half a token of the far end. Every section carries its path
and 1-based inclusive line range, so a user can see exactly what was sent and why."""

from __future__ import annotations

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
    cursor_line = text.count("\n", 0, offset) + 1

    # The cursor line before the cursor is always kept (its far end cut if the line alone is
    # over budget); the rest of the cursor line is the suffix's first line.
    head = _keep_tokens(text[line_start:offset], budget, from_end=True)
    used = count_tokens(head)

    # The suffix may take its share first; the prefix then takes what it can use of the rest,
    # and whatever the prefix leaves (a cursor near the top of the file) goes back to the suffix.
    suffix_lines: list[str] = []
    forward = _Lines(text, offset, backward=False)  # the tail of the cursor line comes first
    suffix_used = forward.take(suffix_lines, max(int((budget - used) * SUFFIX_SHARE), 0))

    prefix_lines: list[str] = []
    prefix_used = used
    # Lines above join the prefix only when the whole cursor line before the cursor is kept;
    # otherwise the prompt would skip the cut part and glue the line above to what is left.
    backward = _Lines(text, line_start, backward=True)
    if offset - len(head) == line_start:
        prefix_used += backward.take(prefix_lines, budget - used - suffix_used)
        prefix_lines.reverse()
    if backward.exhausted:
        suffix_used += forward.take(suffix_lines, budget - prefix_used - suffix_used)

    prefix = "".join(prefix_lines) + head
    suffix = "".join(suffix_lines)
    # Counts are per-line sums. Tokenizing lines that end in "\n" separately never gives fewer
    # tokens than tokenizing them joined (pieces only merge across a line break as whitespace
    # runs, which BPE encodes in fewer tokens; checked on the whole standard library, where
    # the sum is 1.6% above the joined count), so the sum is a cheap, safe upper bound.
    total = prefix_used + suffix_used

    prefix_first = cursor_line - len(prefix_lines)
    suffix_last = cursor_line + max(len(suffix_lines) - 1, 0)
    sections = (
        Section(kind="prefix", path=path, start_line=prefix_first, end_line=cursor_line,
                tokens=prefix_used, score=1.0, reason="text before the cursor",
                included=True),
        Section(kind="suffix", path=path, start_line=cursor_line, end_line=suffix_last,
                tokens=suffix_used, score=0.9, reason="text after the cursor",
                included=bool(suffix_lines)),
    )
    return PackedContext(prefix=prefix, suffix=suffix, tokens=total, budget=budget,
                         sections=sections)


# No cl100k token is longer than this many characters in practice; it bounds the text worth
# handing to the tokenizer when only its last (or first) N tokens can be used.
_MAX_CHARS_PER_TOKEN = 16


class _Lines:
    """Whole lines walking away from the cursor, each with its newline (the last line of the
    text may lack one). A line that did not fit stays first in line for the next `take`."""

    def __init__(self, text: str, start: int, *, backward: bool) -> None:
        self.text, self.position, self.backward = text, start, backward

    @property
    def exhausted(self) -> bool:
        return self.position <= 0 if self.backward else self.position >= len(self.text)

    def take(self, into: list[str], room: int) -> int:
        """Append lines to `into` while they fit in `room` tokens; the tokens taken."""
        taken = 0
        while not self.exhausted:
            if self.backward:
                start = self.text.rfind("\n", 0, self.position - 1) + 1
                line, after = self.text[start:self.position], start
            else:
                end = self.text.find("\n", self.position)
                end = len(self.text) if end < 0 else end + 1
                line, after = self.text[self.position:end], end
            cost = _line_cost(line, room - taken)
            if taken + cost > room:
                break
            into.append(line)
            taken += cost
            self.position = after
        return taken


def _line_cost(line: str, room: int) -> int:
    """Tokens in `line`, or just "more than `room`" when its length alone proves it."""
    if len(line) > (room + 1) * _MAX_CHARS_PER_TOKEN:
        return room + 1
    return count_line_tokens(line)


def _keep_tokens(text: str, limit: int, *, from_end: bool) -> str:
    """At most `limit` tokens of `text`, from its end (or start), without tokenizing all of it."""
    if limit <= 0:
        return ""
    window = limit * _MAX_CHARS_PER_TOKEN
    if len(text) > window:
        text = text[-window:] if from_end else text[:window]
    tokens = encoding().encode(text, disallowed_special=())
    keep = limit
    while len(tokens) > limit and keep > 0:
        kept = tokens[-keep:] if from_end else tokens[:keep]
        # A cut can split a multi-byte character; drop the broken piece (on the cut side only,
        # so the kept end stays exactly the original text) rather than send U+FFFD.
        decoded = encoding().decode(kept)
        text = decoded.lstrip("\ufffd") if from_end else decoded.rstrip("\ufffd")
        tokens = encoding().encode(text, disallowed_special=())
        keep -= 1  # re-encoding the cut text can take more tokens; keep fewer and retry
    return text if len(tokens) <= limit else ""
