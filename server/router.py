"""Task → chain of model profiles. The first profile that answers in time (and whose answer
the job accepts) wins; a profile that fails, or whose answer fails validation, hands over to
the next while the job's deadline allows. Every try is returned as an `Attempt`, so no
fallback is ever silent."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from deskmate.server.backends import create_backend
from deskmate.server.backends.base import Backend, Generation, Request, generate
from deskmate.server.config import Profile
from deskmate.server.errors import BackendError, Timeout

log = logging.getLogger(__name__)

AttemptOutcome = Literal["ok", "timeout", "backend_error", "invalid", "skipped", "cancelled"]

# (profile name, text as it arrives): a job that streams (explain) shows it as it comes; when
# an attempt fails after streaming, the next profile's text starts over under its own name.
OnText = Callable[[str, str], None]
# A job's check of a finished answer: None when it is acceptable, else why it is not.
Validate = Callable[[Generation], str | None]


@dataclass(frozen=True, kw_only=True)
class Attempt:
    profile: str
    backend: str
    model: str
    outcome: AttemptOutcome
    ms: float
    message: str = ""  # what went wrong, for the user; '' when it went well
    prompt_tokens: int = 0
    output_tokens: int = 0
    usage_reported: bool = False
    first_token_ms: float | None = None


@dataclass(frozen=True)
class Routed:
    generation: Generation
    attempts: tuple[Attempt, ...]


class InvalidAnswer(BackendError):
    """The backend answered, but the job's validation refused the answer."""


class RoutingFailed(BackendError):
    """No profile of the chain gave an acceptable answer; `errors` says what each did."""

    def __init__(self, errors: list[BackendError], attempts: list[Attempt]) -> None:
        last = errors[-1]
        message = "; ".join(str(e) for e in errors) if len(errors) > 1 else str(last)
        super().__init__(message)
        self.profile = last.profile
        self.errors = tuple(errors)
        self.attempts = tuple(attempts)  # every attempt of the job so far

    @property
    def last(self) -> BackendError:
        return self.errors[-1]


class Router:
    def __init__(self) -> None:
        self._backends: dict[Profile, Backend] = {}

    def backend(self, profile: Profile) -> Backend:
        """The backend of a profile, created once and kept (its connections stay warm)."""
        if (backend := self._backends.get(profile)) is None:
            backend = self._backends[profile] = create_backend(profile)
        return backend

    async def windows(self, chain: tuple[Profile, ...]) -> list[int]:
        """Each profile's model window: configured, or asked of the backend (a local model
        reads it from its file); 0 where unknown."""
        found = []
        for profile in chain:
            if profile.window > 0:
                found.append(profile.window)
                continue
            try:
                found.append(await self.backend(profile).window())
            except BackendError:
                found.append(0)  # the request itself will report what is wrong
        return found

    async def generate(
        self,
        chain: tuple[Profile, ...],
        request: Request,
        *,
        deadline: float,
        keep_going: Callable[[str], bool] | None = None,
        validate: Validate | None = None,
        on_text: OnText | None = None,
        attempts: list[Attempt] | None = None,
    ) -> Routed:
        """Try each profile of `chain` until one answers acceptably; `deadline` is in loop
        time. Raises RoutingFailed (with every attempt) when none does. Each attempt is also
        appended to `attempts` as it ends, so a job cancelled mid-way still knows them."""
        attempts = attempts if attempts is not None else []
        if not chain:
            error = BackendError("no model profile is configured for this task")
            raise RoutingFailed([error], attempts)
        errors: list[BackendError] = []
        loop = asyncio.get_running_loop()
        for profile in chain:
            remaining = deadline - loop.time()
            if remaining <= 0:
                errors.append(Timeout("no time left before the deadline", profile=profile.name))
                attempts.append(_attempt(profile, "skipped", 0.0, str(errors[-1])))
                break
            started = time.perf_counter()
            try:
                generation = await self._try(profile, request, deadline, keep_going, on_text)
            except TimeoutError:
                errors.append(Timeout(f"no complete answer within the deadline "
                                      f"({remaining * 1000:.0f} ms left)", profile=profile.name))
                attempts.append(_attempt(profile, "timeout", _ms(started), str(errors[-1])))
            except BackendError as exc:
                errors.append(exc)
                attempts.append(_attempt(profile, "backend_error", _ms(started), str(exc)))
            except asyncio.CancelledError:
                attempts.append(_attempt(profile, "cancelled", _ms(started)))
                raise
            else:
                refusal = validate(generation) if validate is not None else None
                if refusal is None:
                    attempts.append(_attempt(profile, "ok", _ms(started), generation=generation))
                    return Routed(generation, tuple(attempts))
                errors.append(InvalidAnswer(refusal, profile=profile.name))
                attempts.append(_attempt(profile, "invalid", _ms(started), str(errors[-1]),
                                         generation=generation))
            log.info("%s", errors[-1])
        raise RoutingFailed(errors, attempts)

    async def _try(self, profile: Profile, request: Request, deadline: float,
                   keep_going: Callable[[str], bool] | None, on_text: OnText | None
                   ) -> Generation:
        backend = self.backend(profile)
        if on_text is None:
            watch = keep_going
        else:
            seen = 0

            def watch(text: str) -> bool:
                nonlocal seen
                if len(text) > seen:
                    on_text(profile.name, text[seen:])
                    seen = len(text)
                return keep_going(text) if keep_going is not None else True

        async with asyncio.timeout_at(deadline):
            return await generate(backend, request, keep_going=watch)

    async def retire(self, keep: Iterable[Profile]) -> None:
        """Close the backends of profiles no longer configured (a config reload removed or
        changed them): their connections and loaded models are freed now, not at shutdown."""
        kept = set(keep)
        for profile in [p for p in self._backends if p not in kept]:
            backend = self._backends.pop(profile)
            try:
                await backend.aclose()
            except Exception:  # closing is best effort; the profile is gone either way
                log.debug("closing the backend of %s failed", profile.name, exc_info=True)

    async def aclose(self) -> None:
        await self.retire(())


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _attempt(profile: Profile, outcome: AttemptOutcome, ms: float, message: str = "",
             *, generation: Generation | None = None) -> Attempt:
    g = generation
    return Attempt(profile=profile.name, backend=profile.backend,
                   model=g.model if g else profile.model, outcome=outcome, ms=round(ms, 1),
                   message=message, prompt_tokens=g.prompt_tokens if g else 0,
                   output_tokens=g.output_tokens if g else 0,
                   usage_reported=g.usage_reported if g else False,
                   first_token_ms=g.first_token_ms if g else None)
