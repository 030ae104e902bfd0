"""Pack the cursor's surroundings into a token budget.

The prefix (text before the cursor) is worth most, then the suffix; both are cut at line
boundaries so the model never sees half a token of the far end. A selection is the middle:
sent whole or not at all (`SelectionTooLarge`), with the prefix before it and the suffix after
it. Every section carries its path and 1-based inclusive line range, so a user can see
exactly what was sent and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from deskmate.context import redact as privacy
from deskmate.context.budget import count_line_tokens, count_tokens, encoding
from deskmate.context.retrieve import Candidate

# Share of the budget the suffix may take when the prefix could use all of it.
SUFFIX_SHARE = 0.25


class SelectionTooLarge(ValueError):
    """The selection alone takes more tokens than the whole budget: it is never cut, so
    nothing can be sent for it. `tokens` is exact, or a lower bound when `at_least` (a
    selection too long to be worth counting)."""

    def __init__(self, tokens: int, budget: int, *, at_least: bool = False) -> None:
        self.tokens, self.budget, self.at_least = tokens, budget, at_least
        super().__init__(f"the selection is {'at least ' if at_least else ''}{tokens} tokens, "
                         f"more than the {budget} the model's window allows: select less")


@dataclass(frozen=True, kw_only=True)
class Section:
    kind: str  # prefix | middle | suffix | definition | outline | recent | open | similar
    path: str
    start_line: int
    end_line: int
    tokens: int
    score: float
    reason: str
    included: bool


@dataclass(frozen=True, kw_only=True)
class PackedContext:
    """The cursor's file as sent: `prefix` + `middle` (the selection; '' for a cursor) +
    `suffix`. `sections`: prefix, [middle,] suffix."""

    prefix: str
    suffix: str
    tokens: int
    budget: int
    sections: tuple[Section, ...]
    middle: str = ""


def pack_cursor(text: str, offset: int, *, budget: int, path: str,
                first_line: int = 1, end: int | None = None) -> PackedContext:
    """Prefix and suffix around `offset` (an index into `text`) within `budget` tokens; with
    `end` (> offset), the selection [offset, end) whole between them, or SelectionTooLarge.
    `first_line`: the line number of `text`'s first line (it may be a slice of the file)."""
    offset = max(0, min(offset, len(text)))
    stop = offset if end is None else max(offset, min(end, len(text)))
    middle = text[offset:stop]
    middle_tokens = selection_tokens(middle, budget) if middle else 0
    room = budget - middle_tokens
    line_start = text.rfind("\n", 0, offset) + 1
    cursor_line = text.count("\n", 0, offset) + first_line
    stop_line = cursor_line + text.count("\n", offset, stop)

    # The cursor line before the cursor is always kept (its far end cut if the line alone is
    # over budget); the rest of the cursor line (of a selection's last line) is the suffix's
    # first line.
    head = _keep_tokens(text[line_start:offset], room, from_end=True)
    used = count_tokens(head)

    # The suffix may take its share first; the prefix then takes what it can use of the rest,
    # and whatever the prefix leaves (a cursor near the top of the file) goes back to the suffix.
    suffix_lines: list[str] = []
    forward = _Lines(text, stop, backward=False)  # the tail of the cursor line comes first
    suffix_used = forward.take(suffix_lines, max(int((room - used) * SUFFIX_SHARE), 0))

    prefix_lines: list[str] = []
    prefix_used = used
    # Lines above join the prefix only when the whole cursor line before the cursor is kept;
    # otherwise the prompt would skip the cut part and glue the line above to what is left.
    backward = _Lines(text, line_start, backward=True)
    if offset - len(head) == line_start:
        prefix_used += backward.take(prefix_lines, room - used - suffix_used)
        prefix_lines.reverse()
    if backward.exhausted:
        suffix_used += forward.take(suffix_lines, room - prefix_used - suffix_used)

    prefix = "".join(prefix_lines) + head
    suffix = "".join(suffix_lines)
    # Counts are per-line sums. Tokenizing lines that end in "\n" separately never gives fewer
    # tokens than tokenizing them joined (pieces only merge across a line break as whitespace
    # runs, which BPE encodes in fewer tokens; checked on the whole standard library, where
    # the sum is 1.6% above the joined count), so the sum is a cheap, safe upper bound.
    total = prefix_used + middle_tokens + suffix_used

    prefix_first = cursor_line - len(prefix_lines)
    suffix_last = stop_line + max(len(suffix_lines) - 1, 0)
    around = "the selection" if middle else "the cursor"
    sections = [Section(kind="prefix", path=path, start_line=prefix_first, end_line=cursor_line,
                        tokens=prefix_used, score=1.0, reason=f"text before {around}",
                        included=True)]
    if middle:
        last = cursor_line + middle.count("\n", 0, len(middle) - 1)  # of its last character
        sections.append(Section(kind="middle", path=path, start_line=cursor_line, end_line=last,
                                tokens=middle_tokens, score=1.0, reason="the selection",
                                included=True))
    sections.append(Section(kind="suffix", path=path, start_line=stop_line, end_line=suffix_last,
                            tokens=suffix_used, score=0.9, reason=f"text after {around}",
                            included=bool(suffix_lines)))
    return PackedContext(prefix=prefix, middle=middle, suffix=suffix, tokens=total,
                         budget=budget, sections=tuple(sections))


def selection_tokens(selection: str, budget: int) -> int:
    """The tokens of a selection (per line, as the packer counts them); SelectionTooLarge
    when they are more than `budget`, without counting one so long it cannot fit."""
    if len(selection) > (budget + 1) * _MAX_CHARS_PER_TOKEN:
        raise SelectionTooLarge(len(selection) // _MAX_CHARS_PER_TOKEN, budget, at_least=True)
    tokens = _text_tokens(selection)
    if tokens > budget:
        raise SelectionTooLarge(tokens, budget)
    return tokens


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
    tokens: int  # snippets + prefix + middle + suffix, never above `budget`
    budget: int
    sections: tuple[Section, ...]  # every candidate's decision, snippets and cursor
    redactions: int = 0  # secrets replaced by privacy.PLACEHOLDER in the text above
    # Milliseconds each step of the window took, in order: "setup" (checks, recent edits, the
    # slice of a large document), retrieval's (`Retrieved.source_ms`: parse, documents,
    # words, then each evidence source by name) and "pack". Filled by the engine.
    source_ms: dict[str, float] = field(default_factory=dict)

    @property
    def block(self) -> str:
        """The snippets as plain text, each under its header comment."""
        return "".join(f"{s.header}\n{s.text}" for s in self.snippets)

    @property
    def prompt(self) -> str:
        """The whole context as text: snippets, then the file up to the cursor, the
        selection if any, then after."""
        return self.block + self.cursor.prefix + self.cursor.middle + self.cursor.suffix


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
    end: int | None = None,
    secrets: privacy.SecretScan | None = None,
) -> ContextWindow:
    """Fill `budget` tokens: the cursor's surroundings and the candidates worth the most per
    token. `comment(path)` gives the line-comment prefix for a path's language; `first_line`
    is the line number of `text`'s first line, and candidates from `path` count the same way.
    With `end` (> offset), [offset, end) is a selection: the middle, always sent whole (or
    SelectionTooLarge); retrieval's share is of the budget it leaves.

    Every section is redacted (`privacy`) once chosen, before anything can be sent: the prefix,
    the middle and the suffix separately, so the cursor stays where it is, with the secrets
    of the whole `text` (`secrets`, the engine's per-version scan of it; else found here), so
    one cut by a section's edge is still seen whole; and each snippet (cut from its file's
    redacted text already, `Candidate.redactions`: redacted once more as it is, for what is
    not a cut of a text, such as a signature and its docstring)."""
    scan = secrets if secrets is not None and secrets.text is text else privacy.SecretScan(text)
    offset = max(0, min(offset, len(text)))
    stop = offset if end is None else max(offset, min(end, len(text)))
    middle_tokens = selection_tokens(text[offset:stop], budget) if stop > offset else 0
    costs = {c.key: _snippet_tokens(c, comment) for c in candidates}
    wanted = sum(costs[c.key] for c in candidates if not c.supersedes)
    cursor_budget = budget - min(int((budget - middle_tokens) * RETRIEVAL_SHARE), wanted)
    cursor = pack_cursor(text, offset, budget=cursor_budget, path=path, first_line=first_line,
                         end=stop)
    covered = (cursor.sections[0].start_line,
               max(s.end_line for s in cursor.sections if s.included))

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
    cursor, redactions = _redacted_cursor(scan, offset, stop, cursor)
    clean: list[tuple[Candidate, int]] = []
    for candidate in included:
        redacted, count = privacy.redact(candidate.text)
        if count:
            candidate = replace(candidate, text=redacted)
            costs[candidate.key] = _snippet_tokens(candidate, comment)
        clean.append((candidate, count + candidate.redactions))
    while clean and cursor.tokens + sum(costs[c.key] for c, _ in clean) > budget:
        dropped, _ = clean.pop(0)
        decisions[dropped.key] = (False, "no room left in the budget after redaction")
    while cursor.tokens > budget and cursor_budget > middle_tokens:
        cursor_budget = max(cursor_budget - (cursor.tokens - budget), middle_tokens)
        cursor, redactions = _redacted_cursor(
            scan, offset, stop, pack_cursor(text, offset, budget=cursor_budget, path=path,
                                            first_line=first_line, end=stop))
    if cursor.tokens > budget:  # a selection whose redacted secrets take more tokens
        raise SelectionTooLarge(cursor.tokens, budget)

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


def _redacted_cursor(scan: privacy.SecretScan, offset: int, stop: int, cursor: PackedContext
                     ) -> tuple[PackedContext, int]:
    """`cursor` with the secrets in its prefix, middle and suffix replaced (found in the whole
    text, `scan`), its token counts updated; and how many secrets that was (one cut by the
    cursor or a selection's edge counts once)."""
    text = scan.text
    start, finish = offset - len(cursor.prefix), stop + len(cursor.suffix)
    touched = scan.within(start, finish)
    if not touched:
        return cursor, 0
    prefix = privacy.redacted_part(text, touched, start, offset)
    middle = privacy.redacted_part(text, touched, offset, stop)
    suffix = privacy.redacted_part(text, touched, stop, finish)
    tokens = {"prefix": _text_tokens(prefix), "middle": _text_tokens(middle),
              "suffix": _text_tokens(suffix)}
    sections = tuple(replace(s, tokens=tokens[s.kind]) for s in cursor.sections)
    return PackedContext(prefix=prefix, middle=middle, suffix=suffix,
                         tokens=sum(tokens.values()), budget=cursor.budget,
                         sections=sections), len(touched)


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
