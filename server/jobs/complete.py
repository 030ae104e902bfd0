"""Inline completion, the first job kind on the runner: the context at the cursor, a FIM
request down the `completion` route, the answer cleaned into what the editor may insert.

What persists between completions lives in `Completions`: the typed-through cache (typing
exactly what the last suggestion said costs no model call) and each document's typing pace
(an as-you-type request waits just longer than the next keystroke is likely to take)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from deskmate.context.pack import ContextWindow
from deskmate.server.backends.base import FimRequest, Generation
from deskmate.server.config import Config
from deskmate.server.jobs import postprocess
from deskmate.server.jobs.cache import CompletionCache
from deskmate.server.jobs.runner import JobContext


@dataclass(frozen=True, kw_only=True)
class Completion:
    text: str  # what the editor should insert at the cursor ('' for nothing)
    context: ContextWindow | None  # None when served from the typed-through cache
    generation: Generation | None  # likewise


class TypingPace:
    """How fast the user types in each document, so an as-you-type request waits just longer
    than the next keystroke is likely to take: a steady burst then costs one model call at its
    end, whatever the typing speed, and a pause is answered after at most MAX_WAIT_S."""

    MAX_WAIT_S = 0.2
    TYPING_GAP_S = 0.5  # longer gaps are pauses, not typing rhythm
    SMOOTHING = 0.3

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._interval: dict[str, float] = {}

    def wait_s(self, key: str, floor_s: float) -> float:
        """Note a keystroke-triggered request now; how long it should wait for the next."""
        now = time.monotonic()
        last, self._last[key] = self._last.get(key), now
        if last is not None and now - last < self.TYPING_GAP_S:
            previous = self._interval.get(key, now - last)
            self._interval[key] = previous + self.SMOOTHING * (now - last - previous)
        if floor_s <= 0:
            return 0.0  # waiting is switched off
        interval = self._interval.get(key, 0.0)
        return min(max(floor_s, 1.5 * interval), max(floor_s, self.MAX_WAIT_S))


class Completions:
    """The completion job kind and what it remembers between jobs."""

    def __init__(self) -> None:
        self._cache = CompletionCache()
        self._pace = TypingPace()

    def forget_suggestions(self) -> None:
        """Drop remembered suggestions (the settings that produced them changed)."""
        self._cache = CompletionCache()

    def job(self, *, automatic: bool = False) -> CompletionJob:
        """A completion; `automatic` when typed-as-you-go (debounced) rather than asked for."""
        return CompletionJob(self._cache, self._pace, automatic=automatic)


class CompletionJob:
    kind = "completion"
    task = "completion"

    def __init__(self, cache: CompletionCache, pace: TypingPace, *, automatic: bool) -> None:
        self._cache = cache
        self._pace = pace
        self._automatic = automatic

    def deadline_ms(self, config: Config) -> int:
        return config.completion.deadline_ms

    def shown(self, result: Any) -> bool:
        return isinstance(result, Completion) and bool(result.text)

    async def run(self, ctx: JobContext) -> Completion:
        snap, config = ctx.snapshot, ctx.config
        wait_s = self._pace.wait_s(snap.key, config.completion.debounce_ms / 1000)
        if (cached := self._cache.recall(snap.key, snap.text, snap.offset)) is not None:
            return Completion(text=cached, context=None, generation=None)
        if self._automatic and wait_s > 0:
            await ctx.pause(wait_s)  # a newer keystroke cancels this job meanwhile

        window = await ctx.window(await ctx.budget(self.task))
        around = postprocess.Surroundings.at(window.cursor.prefix, window.cursor.suffix)
        request = FimRequest(
            prefix=window.cursor.prefix, suffix=window.cursor.suffix, path=snap.shown_path,
            language=snap.language, max_tokens=config.completion.max_tokens,
            temperature=config.completion.temperature, extra=window.snippets)
        routed = await ctx.generate(self.task, request,
                                    keep_going=postprocess.KeepGoing(around))
        generation = routed.generation
        text = postprocess.clean(generation.text, around,
                                 truncated=generation.finish_reason == "length")
        if text:
            self._cache.remember(snap.key, snap.text, snap.offset, text)
        return Completion(text=text, context=window, generation=generation)
