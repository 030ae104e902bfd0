"""Task → chain of model profiles. The first profile that answers in time wins; a profile that
fails hands over to the next while the job's deadline allows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from deskmate.server.backends import create_backend
from deskmate.server.backends.base import Backend, Generation, Request, generate
from deskmate.server.config import Profile
from deskmate.server.errors import BackendError, Timeout

log = logging.getLogger(__name__)


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
    ) -> Generation:
        """Try each profile of `chain` until one answers; `deadline` is in loop time."""
        if not chain:
            raise BackendError("no model profile is configured for this task")
        failures: list[BackendError] = []
        loop = asyncio.get_running_loop()
        for profile in chain:
            remaining = deadline - loop.time()
            if remaining <= 0:
                failures.append(Timeout("no time left before the deadline", profile=profile.name))
                break
            try:
                async with asyncio.timeout_at(deadline):
                    return await generate(self.backend(profile), request, keep_going=keep_going)
            except TimeoutError:
                failures.append(Timeout(f"no complete answer within the deadline "
                                        f"({remaining * 1000:.0f} ms left)", profile=profile.name))
            except BackendError as exc:
                failures.append(exc)
            log.info("%s", failures[-1])
        last = failures[-1]
        if len(failures) > 1:  # one message that tells what each profile did
            last.args = ("; ".join(str(f) for f in failures),)
        raise last

    async def retire(self, keep: set[Profile]) -> None:
        """Close backends of profiles no longer configured."""
        for profile in [p for p in self._backends if p not in keep]:
            await self._backends.pop(profile).aclose()

    async def aclose(self) -> None:
        await self.retire(set())
