"""Where settings come from: the config file search, and a `Layer` per source that can say
which line of its file defined a key (for messages that point at it)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ASSIGNMENT = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.-]+)\s*=")


@dataclass(frozen=True)
class Layer:
    """One source of settings: its data, a name for messages, its text for line lookups."""

    data: Mapping[str, Any]
    source: str
    text: str = ""
    # A workspace file of a workspace the user has not trusted: it may not choose where
    # prompts go (see trust.py).
    untrusted: bool = False

    def where(self, *path: str) -> str:
        line = key_line(self.text, path) if self.text else None
        return f"{self.source}, line {line}" if line else self.source


def key_line(text: str, path: tuple[str, ...]) -> int | None:
    """The 1-based line defining `path` (e.g. ("profiles", "fast", "url")) in TOML text.

    tomllib keeps no positions, so this reads the text the way a person would: table headers set
    the current table, `key =` lines define keys in it. Good enough to point at the line."""
    table: tuple[str, ...] = ()
    fallback: int | None = None
    # TOML lines end at \n only (str.splitlines would also split at U+2028, U+0085, ...,
    # which TOML allows in comments and strings, and shift every line number after them).
    for number, line in enumerate(text.split("\n"), start=1):
        if m := _HEADER.match(line):
            table = _dotted(m.group(1))
            if table == path[: len(table)] and fallback is None and table:
                fallback = number
            continue
        if m := _ASSIGNMENT.match(line):
            key = _dotted(m.group(1))
            if table + key == path:
                return number
            if table + key == path[: len(table + key)] and fallback is None:
                fallback = number
    return fallback


def _dotted(name: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in name.split("."))


def read_file_layer(path: Path) -> tuple[Layer | None, list[str]]:
    """Parse one TOML file; a file that does not parse gives no layer and one message."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [f"{path}: cannot read config file ({exc}); using defaults"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path}: {exc}; this file is ignored, defaults are used"]
    return Layer(data, str(path), text), []


def find_config_file(
    explicit: Path | None, workspace: Path | None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The first config file that exists, in the documented order."""
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    if explicit is not None:
        return explicit  # named on purpose: a missing file is reported, not skipped
    if env.get("DESKMATE_CONFIG"):
        return Path(env["DESKMATE_CONFIG"])
    if workspace is not None:
        candidates.append(workspace / ".deskmate.toml")
    candidates.append(user_config_dir(env) / "config.toml")
    return next((c for c in candidates if c.is_file()), None)


def is_workspace_file(path: Path, explicit: Path | None, workspace: Path | None,
                      environ: Mapping[str, str] | None) -> bool:
    """Whether `path` was found in the workspace (not named by the user, nor their own)."""
    env = os.environ if environ is None else environ
    if explicit is not None or env.get("DESKMATE_CONFIG") or workspace is None:
        return False
    return path == workspace / ".deskmate.toml"


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "deskmate"
