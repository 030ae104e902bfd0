"""Fill-in-the-middle through a chat model: the prompt (data in prompts/fill_in.md) and a
streaming filter that keeps only what the model put between <completion> tags."""

from __future__ import annotations

import re

from deskmate.prompts.render import Message, chat_template, render_snippets
from deskmate.server.backends.base import Event, FimRequest, Finished, TextDelta

OPEN_TAG = "<completion>"
CLOSE_TAG = "</completion>"
# The end of the text so far that could still turn out to be a closing Markdown fence.
_FENCE_TAIL = re.compile(r"\n+(?:`{0,3}|```\s*)\Z")


def fill_in_messages(request: FimRequest) -> tuple[Message, ...]:
    context = render_snippets(request.extra)
    return chat_template("fill_in").render({
        "context": f"Code from the project that may help:\n\n{context}\n" if context else "",
        "path": request.path or "untitled",
        "language": request.language or "text",
        "prefix": request.prefix,
        "suffix": request.suffix,
    })


class CompletionTagFilter:
    """Feed streamed chat text in; get back only the text inside <completion>…</completion>.

    Models differ: some open with the tag, some (when the tag was prefilled) start straight
    with the code, some wrap the code in a Markdown fence. `done` turns true at the closing tag."""

    def __init__(self, *, prefilled: bool = False) -> None:
        self._pending = ""
        self._started = prefilled
        self._at_start = True
        self.done = False

    def feed(self, text: str) -> str:
        if self.done:
            return ""
        self._pending += text
        out = ""
        if not self._started:
            stripped = self._pending.lstrip()
            if len(stripped) < len(OPEN_TAG) and OPEN_TAG.startswith(stripped):
                return ""  # could still become the opening tag
            if stripped.startswith(OPEN_TAG):
                self._pending = stripped[len(OPEN_TAG):]
            self._started = True
        if self._at_start:
            # A Markdown fence right at the start is the model's habit, not code to insert.
            stripped = self._pending.lstrip("\n")
            if stripped.startswith("```"):
                if "\n" not in stripped:
                    return ""
                self._pending = stripped.split("\n", 1)[1]
            elif len(stripped) < 3 and "```".startswith(stripped):
                return ""
            self._at_start = False
        end = self._pending.find(CLOSE_TAG)
        if end >= 0:
            out, self._pending, self.done = self._pending[:end], "", True
            return _strip_closing_fence(out)
        # Hold back anything that could be the start of the closing tag, and before it a
        # closing fence (stripped only once the answer ends, whatever the split).
        keep = _partial_suffix(self._pending, CLOSE_TAG)
        if fence := _FENCE_TAIL.search(self._pending, 0, len(self._pending) - keep):
            keep = len(self._pending) - fence.start()
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(out):]
        return out

    def flush(self) -> str:
        """Whatever is still held back once the stream has ended."""
        out, self._pending = ("" if self.done else self._pending), ""
        return _strip_closing_fence(out)


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def _strip_closing_fence(text: str) -> str:
    stripped = text.rstrip()
    return stripped[:-3].rstrip("\n") if stripped.endswith("\n```") else text


def filtered(events: list[Event], tags: CompletionTagFilter | None) -> list[Event]:
    """Pass events through the <completion> tag filter; the closing tag finishes the answer."""
    if tags is None:
        return events
    out: list[Event] = []
    for event in events:
        if isinstance(event, TextDelta):
            if text := tags.feed(event.text):
                out.append(TextDelta(text))
            if tags.done:
                out.append(Finished(reason="stop"))
                break
        else:
            if text := tags.flush():
                out.append(TextDelta(text))
            out.append(event)
    return out
