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
        return None, [f"{path}: cannot read config file ({exc}); this file is ignored"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [f"{path}: {exc}; this file is ignored, defaults are used"]
    return Layer(data, str(path), text), []


def config_files(
    explicit: Path | None, workspace: Path | None, environ: Mapping[str, str] | None = None
) -> list[tuple[Path, bool]]:
    """The config files that apply, in layer order, each with whether it is the workspace's
    own file (a cloned repository's: it may set only what trust.py allows).

    First the user's own: `--config PATH`, else `$DESKMATE_CONFIG`, else
    `$XDG_CONFIG_HOME/deskmate/config.toml` when it exists (a file named on purpose is listed
    even when missing, to be reported). Then `<workspace>/.deskmate.toml` when it exists and
    is not that same file: layered on top, never instead, so the user's exclusions and
    profiles always apply."""
    env = os.environ if environ is None else environ
    files: list[tuple[Path, bool]] = []
    if explicit is not None:
        files.append((explicit, False))
    elif env.get("DESKMATE_CONFIG"):
        files.append((Path(env["DESKMATE_CONFIG"]), False))
    elif (user := user_config_dir(env) / "config.toml").is_file():
        files.append((user, False))
    if workspace is not None and (own := workspace / ".deskmate.toml").is_file() and \
            not any(_same_file(own, path) for path, _ in files):
        files.append((own, True))
    return files


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "deskmate"
