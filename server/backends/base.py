"""The one small interface every backend implements, and the request/answer types it speaks.

A backend turns a `FimRequest` (prefix + suffix) or a `ChatRequest` (messages) into a stream
of `TextDelta` events ending in one `Finished`. `generate()` drains such a stream into a
`Generation` with timings and token usage. A stream that ends without `Finished` was cut short
and is an error, never a complete answer; so is one longer than `max_tokens` tokens can be
(`answer_limit`), whatever the backend: a server that ignores max_tokens must not put 300,000
characters into the editor, nor make the token count of the answer eat gigabytes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Protocol

from deskmate.context.budget import count_tokens
from deskmate.context.pack import Snippet
from deskmate.prompts.render import Message, render_snippets
from deskmate.server.config import Profile
from deskmate.server.errors import BadResponse

# A token is at most a few dozen characters (the longest in common vocabularies are runs of
# spaces or `=`); an answer longer than max_tokens × this did not respect max_tokens.
MAX_CHARS_PER_TOKEN = 64
MIN_ANSWER_CHARS = 4096


def answer_limit(max_tokens: int) -> int:
    """The most characters an answer of `max_tokens` tokens may have."""
    return max(MIN_ANSWER_CHARS, max_tokens * MAX_CHARS_PER_TOKEN)


def clean_text(text: str) -> str:
    """`text` with lone surrogates (JSON may spell "\\ud800"; UTF-8 cannot encode it, so the
    editor's frame or the terminal would fail) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


@dataclass(frozen=True, kw_only=True)
class FimRequest:
    prefix: str
    suffix: str
    path: str = ""
    language: str = ""
    max_tokens: int = 128
    temperature: float = 0.2
    extra: tuple[Snippet, ...] = ()  # other files' snippets, least valuable first

    def prefix_with_context(self) -> str:
        """The snippets under their header comments, then the prefix: for servers that take
        a plain prompt and apply the model's FIM format themselves."""
        return render_snippets(self.extra) + self.prefix


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    messages: tuple[Message, ...]
    max_tokens: int = 1024
    temperature: float = 0.2


Request = FimRequest | ChatRequest


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True, kw_only=True)
class Finished:
    reason: str = "stop"  # stop | length | ...
    prompt_tokens: int | None = None  # as the server reported them, when it did
    output_tokens: int | None = None


Event = TextDelta | Finished


@dataclass(frozen=True, kw_only=True)
class Generation:
    text: str
    profile: str
    model: str
    finish_reason: str
    prompt_tokens: int
    output_tokens: int
    usage_reported: bool  # False: the token counts are tiktoken estimates
    first_token_ms: float | None
    total_ms: float
    prompt_text: str = field(default="", repr=False)


class Backend(Protocol):
    """What the router needs from a model backend."""

    profile: Profile

    def stream(self, request: Request) -> AsyncGenerator[Event, None]:
        """Text as it arrives, then exactly one `Finished`. Raises `BackendError`s."""
        ...

    def prompt_text(self, request: Request) -> str:
        """The prompt as the model sees it (for token estimates and `context` output)."""
        ...

    async def window(self) -> int:
        """Tokens the model accepts, when the backend can tell (0: unknown)."""
        ...

    def model_name(self) -> str:
        """The model as the user knows it (the profile's `model`, a local file's name)."""
        ...

    async def models(self) -> list[str]:
        """Model names the server offers (for `doctor`)."""
        ...

    async def aclose(self) -> None: ...


def checked(event: Event, profile: str) -> Event:
    """An event as the rest of Deskmate may rely on it, whatever the server sent: text is a
    str, the finish reason a str, token counts whole numbers (one that is not is treated as
    not reported); anything else is one BadResponse."""
    if isinstance(event, TextDelta):
        if not isinstance(event.text, str):
            raise BadResponse(f"the server sent answer text that is not a string "
                              f"({type(event.text).__name__}); check the profile's backend",
                              profile=profile)
        return event
    if not isinstance(event.reason, str):
        raise BadResponse(f"the server sent a finish reason that is not a string "
                          f"({type(event.reason).__name__}); check the profile's backend",
                          profile=profile)
    return replace(event, prompt_tokens=_count(event.prompt_tokens),
                   output_tokens=_count(event.output_tokens))


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


async def generate(
    backend: Backend,
    request: Request,
    *,
    keep_going: Callable[[str], bool] | None = None,
) -> Generation:
    """Run `request` to the end (or until `keep_going(text_so_far)` says stop) and measure it.

    Stopping early on purpose closes the stream and is a normal finish ("stopped")."""
    started = time.perf_counter()
    first_token_ms: float | None = None
    pieces: list[str] = []
    size, limit = 0, answer_limit(request.max_tokens)
    finished: Finished | None = None
    async with aclosing(backend.stream(request)) as events:
        async for unchecked in events:
            event = checked(unchecked, backend.profile.name)
            if isinstance(event, Finished):
                finished = event
                break
            if event.text and first_token_ms is None:
                first_token_ms = (time.perf_counter() - started) * 1000
            size += len(event.text)
            if size > limit:  # leaving the block closes the stream: the server is hung up on
                raise BadResponse(
                    f"the answer ran past {limit} characters, more than max_tokens = "
                    f"{request.max_tokens} tokens can hold; the server does not respect "
                    "max_tokens", profile=backend.profile.name)
            pieces.append(clean_text(event.text))
            if keep_going is not None and not keep_going("".join(pieces)):
                finished = Finished(reason="stopped")
                break
    if finished is None:
        raise BadResponse("the answer stream ended before the model finished",
                          profile=backend.profile.name)
    text = "".join(pieces)
    prompt = backend.prompt_text(request)
    reported = finished.prompt_tokens is not None and finished.output_tokens is not None
    return Generation(
        text=text,
        profile=backend.profile.name,
        model=backend.model_name(),
        finish_reason=finished.reason,
        prompt_tokens=finished.prompt_tokens if finished.prompt_tokens is not None
        else count_tokens(prompt),
        output_tokens=finished.output_tokens if finished.output_tokens is not None
        else count_tokens(text),
        usage_reported=reported,
        first_token_ms=first_token_ms,
        total_ms=(time.perf_counter() - started) * 1000,
        prompt_text=prompt,
    )
