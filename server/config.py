"""Configuration: one typed, immutable `Config` built from layered sources.

Layers, later ones winning key by key: built-in defaults, the first config file found
(`--config`, `$DESKMATE_CONFIG`, `<workspace>/.deskmate.toml`,
`$XDG_CONFIG_HOME/deskmate/config.toml`),
the editor's `initializationOptions`, and `workspace/configuration` (section `deskmate`).

A bad value never stops the server: it is dropped with one message naming the key, the source
and (for files) the line, and the default takes its place.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

BackendName = Literal["openai", "ollama", "llamacpp", "anthropic", "mistral", "local"]
BACKENDS: tuple[str, ...] = ("openai", "ollama", "llamacpp", "anthropic", "mistral", "local")
FIM_FAMILIES: tuple[str, ...] = (
    "starcoder", "codellama", "deepseek", "qwen", "codestral", "codegemma", "none",
)
TASKS: tuple[str, ...] = ("completion",)

DEFAULT_URLS: Mapping[str, str] = {
    "openai": "http://127.0.0.1:8080/v1",
    "ollama": "http://127.0.0.1:11434",
    "llamacpp": "http://127.0.0.1:8080",
    "anthropic": "https://api.anthropic.com",
    "mistral": "https://codestral.mistral.ai",
    "local": "",
}
DEFAULT_KEY_ENVS: Mapping[str, str] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "mistral": "MISTRAL_API_KEY",
}


@dataclass(frozen=True, kw_only=True)
class ContextSettings:
    window: int = 16384
    reserve_output: int = 1024


@dataclass(frozen=True, kw_only=True)
class CompletionSettings:
    max_tokens: int = 128
    deadline_ms: int = 5000
    # Automatic (as-you-type) requests wait at least this long before calling a model, and
    # longer while the user types steadily (1.5 keystroke intervals, up to 200 ms), so a burst
    # costs one backend call, not one per key. 0 never waits. Explicit requests never wait.
    debounce_ms: int = 40
    temperature: float = 0.2


@dataclass(frozen=True, kw_only=True)
class PrivacySettings:
    # Gitignore-style globs, relative to the workspace, never read into a prompt or the index
    # (on top of .gitignore, .deskmateignore and the built-in secrets and binaries).
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    backend: str
    url: str = ""
    model: str = ""
    api_key_env: str = ""
    fim: str = "none"
    window: int = 0  # 0: the model's window is [context] window
    price_in: float = 0.0
    price_out: float = 0.0
    local: bool = False

    def api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The API key from the environment variable the profile names ('' if none)."""
        if not self.api_key_env:
            return ""
        return (os.environ if environ is None else environ).get(self.api_key_env, "")


LOCAL_PROFILE = Profile(name="local", backend="local", local=True)


@dataclass(frozen=True, kw_only=True)
class Config:
    context: ContextSettings = field(default_factory=ContextSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    profiles: Mapping[str, Profile] = field(default_factory=lambda: {"local": LOCAL_PROFILE})
    route: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"completion": ("local",)})
    # Where the values came from and what was wrong with them, for `doctor` and the editor.
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def chain(self, task: str) -> tuple[Profile, ...]:
        """The profiles a task tries, in order."""
        names = self.route.get(task, ())
        return tuple(self.profiles[name] for name in names if name in self.profiles)

    def prompt_budget(self, windows: Iterable[int] = ()) -> int:
        """Tokens a prompt may use: the smallest window (the configured one, and each model's
        in the chain that is known, 0 meaning unknown) minus the reserved output."""
        window = min([self.context.window, *(w for w in windows if w > 0)])
        return max(window - self.context.reserve_output, 0)


# --------------------------------------------------------------------------- schema

Check = Callable[[Any], str | None]  # returns a complaint, or None when the value is fine


def _int_at_least(low: int) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {_show(value)}"
        return None if value >= low else f"must be at least {low}, got {value}"
    return check


def _number_at_least(low: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {_show(value)}"
        return None if value >= low else f"must be at least {low}, got {value}"
    return check


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {_show(value)}"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {_show(value)}"


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"must be one of {', '.join(choices)}; got {_show(value)}"
    return check


def _string_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return f"must be a list of profile names, got {_show(value)}"


def _glob_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return f"must be a list of glob patterns, got {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


SECTION_KEYS: Mapping[str, Mapping[str, Check]] = {
    "context": {"window": _int_at_least(256), "reserve_output": _int_at_least(0)},
    "completion": {
        "max_tokens": _int_at_least(1),
        "deadline_ms": _int_at_least(1),
        "debounce_ms": _int_at_least(0),
        "temperature": _number_at_least(0.0),
    },
    "route": {task: _string_list for task in TASKS},
    "privacy": {"exclude": _glob_list},
}
FLOAT_KEYS = frozenset({"temperature", "price_in", "price_out"})
PROFILE_KEYS: Mapping[str, Check] = {
    "backend": _one_of(BACKENDS),
    "url": _string,
    "model": _string,
    "api_key_env": _string,
    "fim": _one_of(FIM_FAMILIES),
    "window": _int_at_least(0),
    "price_in": _number_at_least(0.0),
    "price_out": _number_at_least(0.0),
    "local": _boolean,
}


# --------------------------------------------------------------------------- layers


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
    header = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    assignment = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.-]+)\s*=")
    table: tuple[str, ...] = ()
    fallback: int | None = None
    # TOML lines end at \n only (str.splitlines would also split at U+2028, U+0085, ...,
    # which TOML allows in comments and strings, and shift every line number after them).
    for number, line in enumerate(text.split("\n"), start=1):
        if m := header.match(line):
            table = tuple(part.strip().strip("\"'") for part in m.group(1).split("."))
            if table == path[: len(table)] and fallback is None and table:
                fallback = number
            continue
        if m := assignment.match(line):
            key = tuple(part.strip().strip("\"'") for part in m.group(1).split("."))
            if table + key == path:
                return number
            if table + key == path[: len(table + key)] and fallback is None:
                fallback = number
    return fallback


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


def _is_workspace_file(path: Path, explicit: Path | None, workspace: Path | None,
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


# --------------------------------------------------------------------------- building


def build_config(layers: list[Layer], *, sources: tuple[str, ...] = ()) -> Config:
    """Validate every layer key by key, merge them in order, and type the result."""
    problems: list[str] = []
    merged: dict[str, Any] = {}
    for layer in layers:
        _merge(merged, _validated(layer, problems))

    context = replace(ContextSettings(), **merged.get("context", {}))
    completion = replace(CompletionSettings(), **merged.get("completion", {}))
    privacy = replace(PrivacySettings(), **merged.get("privacy", {}))
    if context.reserve_output >= context.window:
        problems.append(
            f"context.reserve_output ({context.reserve_output}) must be smaller than "
            f"context.window ({context.window}); using the defaults for both"
        )
        context = ContextSettings()

    profiles: dict[str, Profile] = {"local": LOCAL_PROFILE}
    for name, values in merged.get("profiles", {}).items():
        backend = values.get("backend")
        if backend is None:
            problems.append(f"{_origin(layers, ('profiles', name))}: profile '{name}' has no "
                            f"backend (one of {', '.join(BACKENDS)}); the profile is ignored")
            continue
        defaults: dict[str, Any] = {
            "url": DEFAULT_URLS[backend],
            "api_key_env": DEFAULT_KEY_ENVS.get(backend, ""),
            "local": backend == "local",
        }
        profiles[name] = Profile(name=name, **{**defaults, **values})

    route: dict[str, tuple[str, ...]] = {"completion": ("local",)}
    for task, names in merged.get("route", {}).items():
        known = tuple(n for n in names if n in profiles)
        for missing in (n for n in names if n not in profiles):
            problems.append(f"{_origin(layers, ('route', task))}: route.{task} names profile "
                            f"'{missing}', which is not defined; it is skipped")
        if known:
            route[task] = known
        else:
            problems.append(f"{_origin(layers, ('route', task))}: route.{task} has no usable "
                            "profile; the built-in 'local' profile is used")
    return Config(
        context=context, completion=completion, privacy=privacy, profiles=profiles, route=route,
        sources=sources or tuple(layer.source for layer in layers), problems=tuple(problems),
    )


def _validated(layer: Layer, problems: list[str]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    data = _without_untrusted_keys(layer, problems) if layer.untrusted else layer.data
    for section, value in data.items():
        if section == "profiles":
            if not isinstance(value, Mapping):
                problems.append(f"{layer.where(section)}: 'profiles' must be a table; ignored")
                continue
            for name, values in value.items():
                if not isinstance(values, Mapping):
                    problems.append(f"{layer.where(section, name)}: profiles.{name} must be a "
                                    "table; ignored")
                    continue
                kept = _checked_table(layer, ("profiles", name), values, PROFILE_KEYS, problems)
                clean.setdefault("profiles", {})[name] = kept
        elif section in SECTION_KEYS:
            if not isinstance(value, Mapping):
                problems.append(f"{layer.where(section)}: '{section}' must be a table; ignored")
                continue
            clean[section] = _checked_table(layer, (section,), value, SECTION_KEYS[section],
                                            problems)
        else:
            problems.append(f"{layer.where(section)}: unknown section '{section}'; ignored")
    return clean


def _without_untrusted_keys(layer: Layer, problems: list[str]) -> Mapping[str, Any]:
    """The layer's data minus what only a trusted workspace may set, with one message."""
    from deskmate.server.trust import TRUSTED_PROFILE_KEYS, TRUSTED_SECTIONS

    dropped: list[str] = []
    kept: dict[str, Any] = {}
    for section, value in layer.data.items():
        if section in TRUSTED_SECTIONS:
            dropped.append(section)
        elif section == "profiles" and isinstance(value, Mapping):
            profiles: dict[str, Any] = {}
            for name, values in value.items():
                if isinstance(values, Mapping):
                    dropped += [f"profiles.{name}.{k}" for k in values if k in TRUSTED_PROFILE_KEYS]
                    values = {k: v for k, v in values.items() if k not in TRUSTED_PROFILE_KEYS}
                profiles[name] = values
            kept[section] = profiles
        else:
            kept[section] = value
    if dropped:
        folder = Path(layer.source).parent
        problems.append(
            f"{layer.source}: this workspace is not trusted, so its settings that choose where "
            f"code is sent ({', '.join(dropped)}) are ignored; if you trust this repository, "
            f"run  deskmate trust {folder}")
    return kept


def _checked_table(
    layer: Layer, path: tuple[str, ...], values: Mapping[str, Any],
    schema: Mapping[str, Check], problems: list[str],
) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    dotted = ".".join(path)
    for key, value in values.items():
        check = schema.get(key)
        if check is None:
            problems.append(f"{layer.where(*path, key)}: unknown key '{dotted}.{key}'; ignored")
            continue
        if (complaint := check(value)) is not None:
            problems.append(f"{layer.where(*path, key)}: {dotted}.{key} {complaint}; "
                            "the default is used")
            continue
        if key in FLOAT_KEYS and isinstance(value, int):
            value = float(value)  # `price_in = 1` is a price, typed like `price_in = 1.0`
        kept[key] = tuple(value) if isinstance(value, list) else value
    return kept


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, Mapping):
            into[key] = {}
            _merge(into[key], value)
        else:
            into[key] = value


def _origin(layers: list[Layer], path: tuple[str, ...]) -> str:
    """The last layer that mentions `path`, for messages about merged values."""
    for layer in reversed(layers):
        node: Any = layer.data
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            return layer.where(*path)
    return "defaults"


def load_config(
    *,
    explicit: Path | None = None,
    workspace: Path | None = None,
    overrides: list[tuple[Any, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The config for a workspace: file layer (if any) then editor overrides."""
    layers: list[Layer] = []
    problems: list[str] = []
    path = find_config_file(explicit, workspace, environ)
    if path is not None:
        if path.is_file():
            layer, file_problems = read_file_layer(path)
            problems += file_problems
            if layer is not None:
                if _is_workspace_file(path, explicit, workspace, environ):
                    from deskmate.server.trust import is_trusted

                    assert workspace is not None
                    layer = replace(layer, untrusted=not is_trusted(workspace, environ))
                layers.append(layer)
        else:
            problems.append(f"{path}: config file not found; using defaults")
    for data, source in overrides or []:
        if isinstance(data, Mapping):
            layers.append(Layer(data, source))
        elif data is not None:
            problems.append(f"{source}: settings must be an object; ignored")
    config = build_config(layers)
    return replace(config, problems=tuple(problems) + config.problems)
