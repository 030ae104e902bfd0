"""Turn what a model wrote into what the editor may show.

The rules, in order: a mid-line cursor gets one line; stop where the model starts repeating the
code after the cursor; stop at the end of the enclosing block (indentation); never close a
bracket the suffix already closes; never leave a truncated answer with open brackets; drop
answers that are only whitespace. `cut_point` finds the first rule that fires, so the same
rules can stop a stream early (`KeepGoing`) and clean the final text (`clean`).

Before all of them: an answer is cut before the placeholder that stands for a redacted secret in
the prompt (before its line, when that is not the cursor's); the editor never inserts it."""

from __future__ import annotations

from dataclasses import dataclass

from deskmate.context.redact import PLACEHOLDER

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}


@dataclass(frozen=True)
class Surroundings:
    """What the rules need to know about the cursor."""

    line_prefix: str  # the cursor line before the cursor
    line_suffix: str  # the cursor line after the cursor (no newline)
    next_lines: tuple[str, ...]  # the first few non-blank lines after the cursor line

    @classmethod
    def at(cls, prefix: str, suffix: str) -> Surroundings:
        line_prefix = prefix.rsplit("\n", 1)[-1]
        line_suffix, _, rest = suffix.partition("\n")
        following = tuple(line.rstrip() for line in rest.split("\n")[:20] if line.strip())
        return cls(line_prefix, line_suffix.rstrip("\r"), following[:3])

    @property
    def mid_line(self) -> bool:
        return bool(self.line_suffix.strip())

    @property
    def base_indent(self) -> int:
        """Indentation the completion's own lines must not fall below."""
        return _indent(self.line_prefix) if self.line_prefix.strip() else len(self.line_prefix)


def clean(text: str, around: Surroundings, *, truncated: bool = False) -> str:
    """The part of `text` worth showing ('' when nothing is)."""
    if (secret := text.find(PLACEHOLDER)) >= 0:
        # What came before the placeholder is all there is: treat it as cut short. On the
        # cursor's line that is the text up to it; below, the lines before its line.
        line_start = text.rfind("\n", 0, secret)
        text, truncated = text[:secret if line_start < 0 else line_start], True
    text = text[: cut_point(text, around, final=True)]
    text = _drop_repeated_closers(text, around)
    if truncated:
        text = _trim_unbalanced_tail(text)
    text = text.rstrip()
    return text if text.strip() else ""


class KeepGoing:
    """A stream check: False as soon as a rule has cut the text for good."""

    def __init__(self, around: Surroundings) -> None:
        self.around = around

    def __call__(self, text: str) -> bool:
        if PLACEHOLDER in text:
            return False  # nothing after it will be shown
        return cut_point(text, self.around, final=False) >= len(text)


def cut_point(text: str, around: Surroundings, *, final: bool) -> int:
    """Index where the first line-level rule cuts `text` (len(text) when none does).

    With `final=False` only complete lines are judged, since the stream may still grow."""
    lines = text.split("\n")
    complete = len(lines) if final else len(lines) - 1
    if around.mid_line:
        return text.find("\n") if "\n" in text else len(text)
    base = around.base_indent
    first_opens_block = lines[0].rstrip().endswith((":", "{", "(", "[")) if lines else False
    offset = len(lines[0]) + 1
    for number in range(1, complete):
        line = lines[number]
        stripped = line.rstrip()
        if stripped:
            closers_only = _closing_line(stripped)
            if stripped in around.next_lines[:1] and not closers_only:
                return offset - 1  # the model is re-writing the code after the cursor
            indent = _indent(line)
            if indent < base:
                return offset - 1  # dedent past the cursor's block: the block has ended
            if first_opens_block and indent <= base and number > 1:
                # The completion opened a block and came back to its own level: keep a closing
                # bracket line ("}" / ")") and stop after it, stop before anything else.
                if closers_only:
                    return offset + len(line)
                return offset - 1
        offset += len(line) + 1
    return len(text)


def _closing_line(line: str) -> bool:
    """A line that only closes brackets: "}", "});", and also "}()" / "})();" (a Go or JS
    function literal called on the spot), whose "(" does not open anything new."""
    code = line.strip()
    if not code.strip(";,)]}"):
        return True
    if code[0] not in CLOSERS or any(c.isalnum() for c in code):
        return False
    return sum(code.count(c) for c in CLOSERS) > sum(code.count(c) for c in OPENERS)


def _drop_repeated_closers(text: str, around: Surroundings) -> str:
    """Cut where the completion closes a bracket it did not open and the suffix closes it too."""
    depth: list[str] = []
    in_string: str | None = None
    following = around.line_suffix.lstrip()
    for index, char in enumerate(text):
        if in_string:
            if char == in_string and text[index - 1] != "\\":
                in_string = None
        elif char in "\"'`":
            in_string = char
        elif char in OPENERS:
            depth.append(char)
        elif char in CLOSERS:
            if depth and depth[-1] == CLOSERS[char]:
                depth.pop()
            elif following.startswith(char):
                return text[:index]
    # The model may also end with exactly the characters that follow the cursor.
    for size in range(min(len(following), len(text)), 0, -1):
        tail = following[:size]
        if text.endswith(tail) and not any(c.isalnum() for c in tail):
            return text[:-size]
    return text


def _trim_unbalanced_tail(text: str) -> str:
    """A truncated answer keeps its lines up to the last point where its brackets balance."""
    depth = 0
    last_balanced_line_end = 0
    for index, char in enumerate(text):
        if char in OPENERS:
            depth += 1
        elif char in CLOSERS:
            depth -= 1
        elif char == "\n" and depth <= 0:
            last_balanced_line_end = index
    if depth <= 0:
        return text
    return text[:last_balanced_line_end] if last_balanced_line_end else text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))
