"""Workspace trust: a cloned repository's `.deskmate.toml` must not be able to send the user's
code or API keys to a server of its choosing.

A workspace file may always set context, completion, privacy and prompt options; its profile
`url`, `backend`, `api_key_env` and `proxy` and its `route` take effect only in workspaces the user
trusted with `deskmate trust [DIR]`. The list lives in the user's config folder, one absolute
path per line, outside any workspace.

Trusted or not, a workspace file is a layer on top of the user's own config (config.py): it
never replaces the user's profiles, and it can add `[privacy] exclude` globs but never remove
one, nor its numbers leave their ranges (config_schema.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from deskmate.server.config import user_config_dir

TRUST_FILE = "trusted-workspaces"
# What only a trusted workspace file may set: where prompts go and with which key.
TRUSTED_PROFILE_KEYS = frozenset({"url", "backend", "api_key_env", "proxy"})
TRUSTED_SECTIONS = frozenset({"route"})


def trust_file(environ: Mapping[str, str] | None = None) -> Path:
    return user_config_dir(environ) / TRUST_FILE


def trusted_workspaces(environ: Mapping[str, str] | None = None) -> list[Path]:
    try:
        lines = trust_file(environ).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [Path(line) for line in (raw.strip() for raw in lines) if line]


def is_trusted(workspace: Path, environ: Mapping[str, str] | None = None) -> bool:
    resolved = workspace.resolve()
    return any(resolved == path for path in trusted_workspaces(environ))


def set_trust(workspace: Path, trusted: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Add (or remove) `workspace`; False when nothing changed."""
    resolved = workspace.resolve()
    known = trusted_workspaces(environ)
    if (resolved in known) == trusted:
        return False
    kept = [*known, resolved] if trusted else [p for p in known if p != resolved]
    path = trust_file(environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the list and renamed over it: never half a file.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".trusted-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{p}\n" for p in kept))
    os.replace(temporary, path)
    return True
