"""The user's global gitignore (`core.excludesFile`), found the way git finds it, without
running git.

git reads `core.excludesFile` from the system config, then `$XDG_CONFIG_HOME/git/config`, then
`~/.gitconfig` (or only `$GIT_CONFIG_GLOBAL` when set), the last value winning, following
`[include] path = ...`; when no file sets it, the default is `$XDG_CONFIG_HOME/git/ignore`
(`~/.config/git/ignore`). Whatever is wrong with a config file (unreadable, not UTF-8, odd
syntax) costs that file or that line, never the walk: the worst case is the default.
Conditional includes (`[includeIf]`) are not followed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

log = logging.getLogger(__name__)

__all__ = ["global_excludes_file"]

MAX_INCLUDE_DEPTH = 10  # git's own limit
MAX_CONFIG_BYTES = 1_000_000
_SECTION = re.compile(r'^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\](.*)$')
_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*(=(.*))?$")
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "\\": "\\", '"': '"'}


def _value(raw: str) -> str:
    """A config value as git reads it: quotes removed, escapes resolved, a comment outside
    quotes and the spaces around the value dropped."""
    out: list[str] = []
    quoted = False
    pending_space = ""
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            out.append(pending_space + _ESCAPES.get(raw[i + 1], raw[i + 1]))
            pending_space = ""
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "#;":
            break
        elif not quoted and c.isspace():
            if out:
                pending_space += c
        else:
            out.append(pending_space + c)
            pending_space = ""
        i += 1
    return "".join(out)


def _expand(path: str, home: str | None, relative_to: str) -> str | None:
    """`~/` and `~user/` expanded; relative to `relative_to`; None when it needs an unknown
    home."""
    if path.startswith("~/") or path == "~":
        if not home:
            return None
        path = home + path[1:]
    elif path.startswith("~"):
        expanded = os.path.expanduser(path)
        if expanded == path:
            return None
        path = expanded
    return os.path.join(relative_to, path)


def _lines(path: str) -> list[str]:
    """The file's logical lines (a trailing backslash continues a line); [] if unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES)
    except OSError:
        return []
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    return re.sub(r"\\\r?\n", "", text).splitlines()


def _read(path: str, home: str | None, found: dict[str, str], depth: int = 0) -> None:
    """Put the `core.excludesfile` values of the config file at `path` (and of the files it
    includes) into `found`, in order, the last one winning."""
    if depth > MAX_INCLUDE_DEPTH:
        return
    section = ""
    for line in _lines(path):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = _SECTION.match(line)
            if m is None:
                section = ""
                continue
            name, sub = m.group(1).lower(), m.group(2)
            section = f"{name}\0{sub}" if sub is not None else name
            line = m.group(3).strip()
            if not line:
                continue
        m = _KEY.match(line)
        if m is None or m.group(2) is None:
            continue
        key, value = m.group(1).lower(), _value(m.group(3))
        if section == "core" and key == "excludesfile":
            found["excludesfile"] = value
        elif section == "include" and key == "path" and value:
            target = _expand(value, home, os.path.dirname(path))
            if target is not None:
                _read(target, home, found, depth + 1)


def global_excludes_file(environ: Mapping[str, str] | None = None,
                         relative_to: str = ".") -> str | None:
    """The path of the user's global gitignore (it may not exist), or None when git's config
    sets it to nothing or it depends on a home folder that is unknown. A relative setting is
    taken relative to `relative_to` (the workspace: where git would run)."""
    env = os.environ if environ is None else environ
    home = env.get("HOME") or None
    xdg = env.get("XDG_CONFIG_HOME") or (os.path.join(home, ".config") if home else None)
    files: list[str] = []
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        files.append(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig")
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(env["GIT_CONFIG_GLOBAL"])
    else:
        files += [os.path.join(xdg, "git", "config")] if xdg else []
        files += [os.path.join(home, ".gitconfig")] if home else []
    found: dict[str, str] = {}
    for path in files:
        try:
            _read(path, home, found)
        except (RecursionError, ValueError) as exc:  # an include loop, a NUL in a path
            log.debug("reading %s: %s", path, exc)
    if "excludesfile" not in found:
        return os.path.join(xdg, "git", "ignore") if xdg else None
    value = found["excludesfile"]
    return _expand(value, home, relative_to) if value else None
