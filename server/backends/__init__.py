"""One module per wire protocol; `create_backend` picks the one a profile names."""

from __future__ import annotations

from deskmate.server.backends.base import Backend
from deskmate.server.config import Profile


def create_backend(profile: Profile, *, timeout_s: float = 30.0) -> Backend:
    if profile.backend == "local":
        from deskmate.server.backends.local import LocalBackend  # heavy: imported on first use

        return LocalBackend(profile)
    from deskmate.server.backends.anthropic import AnthropicBackend
    from deskmate.server.backends.llamacpp import LlamaCppBackend
    from deskmate.server.backends.mistral import MistralBackend
    from deskmate.server.backends.ollama import OllamaBackend
    from deskmate.server.backends.openai import OpenAIBackend

    kinds = {
        "openai": OpenAIBackend,
        "ollama": OllamaBackend,
        "llamacpp": LlamaCppBackend,
        "anthropic": AnthropicBackend,
        "mistral": MistralBackend,
    }
    return kinds[profile.backend](profile, timeout_s=timeout_s)
