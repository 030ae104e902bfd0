"""Pack the cursor's surroundings into a token budget.

The prefix (text before the cursor) is worth most, then the suffix; both are cut at line
boundaries so the model never sees half a token of the far end. Every section carries its path
and 1-based inclusive line range, so a user can see exactly what was sent and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from deskmate.context import privacy
from deskmate.context.budget import count_line_tokens, count_tokens, encoding
from deskmate.context.retrieve import Candidate

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


def pack_cursor(text: str, offset: int, *, budget: int, path: str,
                first_line: int = 1) -> PackedContext:
    """Prefix and suffix around `offset` (an index into `text`) within `budget` tokens.
    `first_line`: the line number of `text`'s first line (it may be a slice of the file)."""
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    cursor_line = text.count("\n", 0, offset) + first_line

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


# --------------------------------------------------------------------------- whole context


@dataclass(frozen=True, kw_only=True)
class Snippet:
    """A piece of another file (or a far part of this one) sent before the cursor's file."""

    path: str
    start_line: int
    end_line: int
    text: str  # ends with a newline
    header: str  # its path and lines as a comment in its language: "# a/b.py:3-9"
    kind: str = "definition"


@dataclass(frozen=True, kw_only=True)
class ContextWindow:
    """Everything chosen for one prompt: snippets (least valuable first, so the most valuable
    sit nearest the cursor), then the cursor file's prefix and suffix."""

    cursor: PackedContext
    snippets: tuple[Snippet, ...]
    tokens: int  # snippets + prefix + suffix, never above `budget`
    budget: int
    sections: tuple[Section, ...]  # every candidate's decision, snippets and cursor
    redactions: int = 0  # secrets replaced by privacy.PLACEHOLDER in the text above

    @property
    def block(self) -> str:
        """The snippets as plain text, each under its header comment."""
        return "".join(f"{s.header}\n{s.text}" for s in self.snippets)

    @property
    def prompt(self) -> str:
        """The whole context as text: snippets, then the file up to the cursor, then after."""
        return self.block + self.cursor.prefix + self.cursor.suffix


# Of the budget, retrieved snippets may take up to this share before the cursor's own file
# is packed; whatever they do not need goes to the prefix and suffix.
RETRIEVAL_SHARE = 0.5


def pack_context(
    text: str,
    offset: int,
    *,
    budget: int,
    path: str,
    candidates: Sequence[Candidate],
    comment: Callable[[str], str],
    first_line: int = 1,
) -> ContextWindow:
    """Fill `budget` tokens: the cursor's surroundings and the candidates worth the most per
    token. `comment(path)` gives the line-comment prefix for a path's language; `first_line`
    is the line number of `text`'s first line, and candidates from `path` count the same way.

    Every section is redacted (`privacy`) once chosen, before anything can be sent: the prefix
    and the suffix separately, so the cursor stays where it is, and each snippet."""
    offset = max(0, min(offset, len(text)))
    costs = {c.key: _snippet_tokens(c, comment) for c in candidates}
    wanted = sum(costs[c.key] for c in candidates if not c.supersedes)
    cursor_budget = budget - min(int(budget * RETRIEVAL_SHARE), wanted)
    cursor = pack_cursor(text, offset, budget=cursor_budget, path=path, first_line=first_line)
    covered = (cursor.sections[0].start_line,
               cursor.sections[1].end_line if cursor.sections[1].included else
               cursor.sections[0].end_line)

    room = budget - cursor.tokens
    chosen: dict[str, Candidate] = {}
    decisions: dict[str, tuple[bool, str]] = {}
    ranked = sorted(candidates, key=lambda c: -(c.score / max(costs[c.key], 1)))
    for candidate in ranked:
        key = candidate.key
        if candidate.path == path and _inside(candidate, covered):
            decisions[key] = (False, "already in the prompt around the cursor")
            continue
        if candidate.score < MIN_SCORE:
            decisions[key] = (False, "too weak a reason to spend tokens on")
            continue
        replaced = chosen.get(candidate.supersedes) if candidate.supersedes else None
        if any(c.supersedes == key for c in chosen.values()):
            decisions[key] = (False, "its body is in the prompt")
            continue
        cost = costs[key] - (costs[replaced.key] if replaced else 0)
        if cost > room:
            decisions[key] = (False, "no room left in the budget")
            continue
        if replaced is not None:
            del chosen[replaced.key]
            decisions[replaced.key] = (False, "replaced by its body")
        chosen[key] = candidate
        decisions[key] = (True, candidate.reason)
        room -= cost

    # Least valuable first: the order of the prompt, and of dropping should redaction have
    # made anything longer in tokens (a secret cut by the cursor becomes two placeholders).
    included = sorted(chosen.values(), key=lambda c: (c.score, c.path, c.start_line))
    cursor, redactions = _redacted_cursor(text, offset, cursor)
    clean: list[tuple[Candidate, int]] = []
    for candidate in included:
        redacted, count = privacy.redact(candidate.text)
        if count:
            candidate = replace(candidate, text=redacted)
            costs[candidate.key] = _snippet_tokens(candidate, comment)
        clean.append((candidate, count))
    while clean and cursor.tokens + sum(costs[c.key] for c, _ in clean) > budget:
        dropped, _ = clean.pop(0)
        decisions[dropped.key] = (False, "no room left in the budget after redaction")
    while cursor.tokens > budget and cursor_budget > 0:
        cursor_budget -= cursor.tokens - budget
        cursor, redactions = _redacted_cursor(
            text, offset, pack_cursor(text, offset, budget=max(cursor_budget, 0), path=path,
                                      first_line=first_line))

    snippets = tuple(
        Snippet(path=c.path, start_line=c.start_line, end_line=c.end_line,
                text=c.text if c.text.endswith("\n") else c.text + "\n",
                header=f"{comment(c.path)} {c.path}:{c.start_line}-{c.end_line}", kind=c.kind)
        for c, _ in clean)
    used = sum(costs[c.key] for c, _ in clean)
    sections = tuple(
        Section(kind=c.kind, path=c.path, start_line=c.start_line, end_line=c.end_line,
                tokens=costs[c.key], score=round(c.score, 4),
                reason=decisions[c.key][1] if decisions[c.key][0] else
                f"{c.reason}; dropped: {decisions[c.key][1]}",
                included=decisions[c.key][0])
        for c in candidates if c.key in decisions)
    return ContextWindow(cursor=cursor, snippets=snippets, tokens=used + cursor.tokens,
                         budget=budget, sections=cursor.sections + sections,
                         redactions=redactions + sum(count for _, count in clean))


def _redacted_cursor(text: str, offset: int, cursor: PackedContext) -> tuple[PackedContext, int]:
    """`cursor` with the secrets in its prefix and suffix replaced, its token counts updated;
    and how many secrets that was."""
    start, end = offset - len(cursor.prefix), offset + len(cursor.suffix)
    prefix, suffix, count = privacy.redact_around(text, start, offset, end)
    if not count:
        return cursor, 0
    prefix_tokens, suffix_tokens = _text_tokens(prefix), _text_tokens(suffix)
    sections = (replace(cursor.sections[0], tokens=prefix_tokens),
                replace(cursor.sections[1], tokens=suffix_tokens))
    return PackedContext(prefix=prefix, suffix=suffix, tokens=prefix_tokens + suffix_tokens,
                         budget=cursor.budget, sections=sections), count


def _text_tokens(text: str) -> int:
    """Per line, like the packer counts: an upper bound of the joined count."""
    return sum(count_line_tokens(line) for line in text.splitlines(keepends=True))


def _snippet_tokens(candidate: Candidate, comment: Callable[[str], str]) -> int:
    header = f"{comment(candidate.path)} {candidate.path}:{candidate.start_line}-" \
             f"{candidate.end_line}\n"
    text = candidate.text if candidate.text.endswith("\n") else candidate.text + "\n"
    # Per line, like the cursor's text: an upper bound of the joined count. A few tokens more
    # cover families that mark files with their own separator tokens instead of a comment.
    return count_line_tokens(header) + sum(count_line_tokens(line) for line in
                                           text.splitlines(keepends=True)) + SNIPPET_SLACK


SNIPPET_SLACK = 4
# Candidates scoring below this are noise more often than help, even when tokens are left.
MIN_SCORE = 0.15


def _inside(candidate: Candidate, covered: tuple[int, int]) -> bool:
    return covered[0] <= candidate.start_line and candidate.end_line <= covered[1]
