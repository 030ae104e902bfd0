"""One module per wire protocol; `create_backend` picks the one a profile names.

Nothing is imported here at load time: `config` reads `backends.facts` while it loads, and
Python runs this file first, so an import of `config` (or of `base`, which imports it) here
would be circular. Protocol modules are imported on first use (the local one is heavy)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from deskmate.server.backends.facts import BACKENDS

if TYPE_CHECKING:
    from deskmate.server.backends.base import Backend
    from deskmate.server.config import Profile


def create_backend(profile: Profile, *, timeout_s: float = 30.0) -> Backend:
    """The backend the profile names, from `server/backends/<backend>.py` (see facts.py)."""
    facts = BACKENDS[profile.backend]
    module = importlib.import_module(f"{__name__}.{facts.name}")
    kind: Callable[..., Backend] = getattr(module, facts.class_name)
    return kind(profile, timeout_s=timeout_s)
