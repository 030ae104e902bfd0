"""Jobs: one user-visible piece of work each (a completion now; refactor and explain later),
with a deadline, the context it sent and the model's answer measured.

A job knows nothing of LSP: it takes text and an offset and returns text and figures."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deskmate.context.budget import count_tokens
from deskmate.context.engine import ContextEngine
from deskmate.context.pack import ContextWindow
from deskmate.server import postprocess
from deskmate.server.backends.base import FimRequest, Generation
from deskmate.server.cache import CompletionCache
from deskmate.server.config import Config
from deskmate.server.router import Router

log = logging.getLogger(__name__)

# Tokens kept aside for the FIM template's own tokens and the file header.
TEMPLATE_OVERHEAD = 32


@dataclass(frozen=True, kw_only=True)
class CompletionInput:
    key: str  # identifies the document (its URI, or its path on the command line)
    text: str
    offset: int  # index into `text` (code points)
    path: str = ""  # as shown to the model: relative to the workspace
    language: str = ""
    automatic: bool = False  # typed-as-you-go (debounced) rather than asked for
    # Other open documents (workspace-relative path → text), already cleared for sending.
    open_documents: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CompletionOutcome:
    text: str  # what the editor should insert at the cursor ('' for nothing)
    context: ContextWindow | None  # None when served from the typed-through cache
    generation: Generation | None  # likewise
    latency_ms: float


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


def prompt_budget(config: Config, windows: Iterable[int] = ()) -> int:
    """Tokens a prompt may use within these model windows (the FIM template's own tokens set
    aside)."""
    return max(config.prompt_budget(windows) - TEMPLATE_OVERHEAD, 0)


def context_report(window: ContextWindow, *, elapsed_ms: float, index_ms: float
                   ) -> dict[str, Any]:
    """`deskmate context --json` and `deskmate/context`: what was packed and why (fixed
    fields; other tools read them)."""
    prompt = window.prompt
    return {
        "budget": window.budget,
        "tokens": count_tokens(prompt),
        "prompt": prompt,
        "elapsed_ms": round(elapsed_ms, 3),
        "index_ms": round(index_ms, 3),
        "sections": [{"kind": s.kind, "path": s.path, "start_line": s.start_line,
                      "end_line": s.end_line, "tokens": s.tokens, "score": s.score,
                      "reason": s.reason, "included": s.included} for s in window.sections],
        "redactions": window.redactions,  # secrets replaced by a placeholder in `prompt`
    }


class CompletionJobs:
    def __init__(self, config: Callable[[], Config], router: Router,
                 engine: Callable[[], ContextEngine]) -> None:
        self._config = config
        self._router = router
        self._engine = engine
        self._cache = CompletionCache()
        self._pace = TypingPace()
        self._running: dict[str, asyncio.Task[object]] = {}

    def forget_suggestions(self) -> None:
        """Drop remembered suggestions (the settings that produced them changed)."""
        self._cache = CompletionCache()

    def supersede(self, key: str) -> None:
        """Cancel the request still running for `key`: the user has moved on.

        Call from inside the new request's task; it becomes the one running for `key`."""
        current = asyncio.current_task()
        older = self._running.get(key)
        if older is not None and older is not current and not older.done():
            older.cancel()
        if current is not None:
            self._running[key] = current
            current.add_done_callback(lambda task: self._forget_task(key, task))

    def _forget_task(self, key: str, task: asyncio.Task[object]) -> None:
        if self._running.get(key) is task:
            del self._running[key]

    async def complete(self, job: CompletionInput) -> CompletionOutcome:
        started = time.perf_counter()
        config = self._config()
        wait_s = self._pace.wait_s(job.key, config.completion.debounce_ms / 1000)
        if (cached := self._cache.recall(job.key, job.text, job.offset)) is not None:
            return CompletionOutcome(text=cached, context=None, generation=None,
                                     latency_ms=(time.perf_counter() - started) * 1000)

        if job.automatic and wait_s > 0:
            # Wait for the typing to pause; a newer keystroke cancels this task meanwhile.
            await asyncio.sleep(wait_s)

        chain = config.chain("completion")
        budget = prompt_budget(config, await self._router.windows(chain))
        window = self._engine().window(path=job.path, text=job.text, offset=job.offset,
                                       budget=budget,
                                       open_documents=job.open_documents)
        context = window.cursor
        around = postprocess.Surroundings.at(context.prefix, context.suffix)
        request = FimRequest(
            prefix=context.prefix, suffix=context.suffix, path=job.path, language=job.language,
            max_tokens=config.completion.max_tokens, temperature=config.completion.temperature,
            extra=window.snippets,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.completion.deadline_ms / 1000
        generation = await self._router.generate(
            chain, request, deadline=deadline, keep_going=postprocess.KeepGoing(around))
        text = postprocess.clean(generation.text, around,
                                 truncated=generation.finish_reason == "length")
        if text:
            self._cache.remember(job.key, job.text, job.offset, text)
        return CompletionOutcome(text=text, context=window, generation=generation,
                                 latency_ms=(time.perf_counter() - started) * 1000)
