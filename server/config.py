"""Configuration: one typed, immutable `Config` built from layered sources.

Layers, later ones winning key by key: built-in defaults; the user's own config file
(`--config`, else `$DESKMATE_CONFIG`, else `$XDG_CONFIG_HOME/deskmate/config.toml`); the
workspace's `.deskmate.toml` (what an untrusted one may set: trust.py); the editor's
`initializationOptions`; and `workspace/configuration` (section `deskmate`). A workspace file
adds to the user's config, it never replaces it: the user's profiles stay, and lists marked
`every_layer` (`[privacy] exclude`) add up across all layers, so no layer (a repository, or an
editor sending `exclude = []`) can remove a glob another one set: exclusions only tighten.

A bad value never stops the server: it is dropped with one message naming the key, the source
and (for files) the line, and the default takes its place. The dataclasses below are the
schema: config_schema.py reads keys, types, defaults and limits off their fields.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from deskmate.prompts.render import fim_families
from deskmate.server.backends.facts import BACKENDS, LOCAL
from deskmate.server.backends.proxy import check_setting as check_proxy
from deskmate.server.config_files import Layer, config_files, read_file_layer, user_config_dir
from deskmate.server.config_schema import (
    Schema,
    between,
    checked_by,
    list_of,
    one_of,
    rules_of,
    validated,
)

__all__ = [
    "LOCAL_PROFILE", "CompletionSettings", "Config", "ContextSettings", "PrivacySettings",
    "Profile", "Routes", "build_config", "config_files", "load_config", "user_config_dir",
]


@dataclass(frozen=True, kw_only=True)
class ContextSettings:
    """`[context]`: the window prompts are packed for."""

    window: int = field(default=16384, metadata=between(256, 1 << 20))  # tokens the model takes
    reserve_output: int = field(default=1024, metadata=between(0, 1 << 18))  # for the answer


@dataclass(frozen=True, kw_only=True)
class CompletionSettings:
    """`[completion]`: inline completion requests."""

    max_tokens: int = field(default=128, metadata=between(1, 16384))
    deadline_ms: int = field(default=5000, metadata=between(100, 600_000))  # at most 10 min
    # Automatic (as-you-type) requests wait at least this long before calling a model, and
    # longer while the user types steadily (1.5 keystroke intervals, up to 200 ms), so a burst
    # costs one backend call, not one per key. 0 never waits. Explicit requests never wait.
    debounce_ms: int = field(default=40, metadata=between(0, 2000))
    temperature: float = field(default=0.2, metadata=between(0.0, 2.0))


@dataclass(frozen=True, kw_only=True)
class PrivacySettings:
    """`[privacy]`: what never goes into a prompt, on top of the built-in rules."""

    # Gitignore-style globs, relative to the workspace, never read into a prompt or the index
    # (on top of .gitignore, .deskmateignore and the built-in secrets and binaries).
    # Every layer adds its globs (user config, workspace file, editor): none can remove any.
    exclude: tuple[str, ...] = field(default=(), metadata=list_of("glob patterns",
                                                                   every_layer=True))


@dataclass(frozen=True, kw_only=True)
class Routes:
    """`[route]`: the chain of profile names each task tries, in order (one field per task)."""

    completion: tuple[str, ...] = field(default=(LOCAL,), metadata=list_of("profile names"))


@dataclass(frozen=True, kw_only=True)
class Profile:
    """`[profiles.NAME]`: one model behind one backend (hashable: the router keys by it).
    A profile that sets no `url` or `api_key_env` gets its backend's (backends/facts.py)."""

    name: str  # the table's name, not a key
    backend: str = field(metadata=one_of(BACKENDS))
    url: str = ""
    model: str = ""
    api_key_env: str = ""
    fim: str = field(default="none", metadata=one_of((*fim_families(), "none")))
    window: int = field(default=0, metadata=between(0, 1 << 20))  # 0: the [context] window
    price_in: float = field(default=0.0, metadata=between(0.0, 10_000.0))  # USD per M tokens
    price_out: float = field(default=0.0, metadata=between(0.0, 10_000.0))
    # "" direct; "env": the environment's proxy variables; or a proxy URL. Loopback servers
    # never go through a proxy (backends/proxy.py).
    proxy: str = field(default="", metadata=checked_by(check_proxy))

    def api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The API key from the environment variable the profile names ('' if none)."""
        if not self.api_key_env:
            return ""
        return (os.environ if environ is None else environ).get(self.api_key_env, "")


LOCAL_PROFILE = Profile(name=LOCAL, backend=LOCAL)

SCHEMA = Schema(
    sections={"context": rules_of(ContextSettings), "completion": rules_of(CompletionSettings),
              "privacy": rules_of(PrivacySettings), "route": rules_of(Routes)},
    named={"profiles": rules_of(Profile, skip={"name"})},
)


@dataclass(frozen=True, kw_only=True)
class Config:
    context: ContextSettings = field(default_factory=ContextSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    profiles: Mapping[str, Profile] = field(default_factory=lambda: {LOCAL: LOCAL_PROFILE})
    route: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: asdict(Routes()))
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


# --------------------------------------------------------------------------- building


def build_config(layers: list[Layer], *, sources: tuple[str, ...] = ()) -> Config:
    """Validate every layer key by key, merge them in order, and type the result."""
    problems: list[str] = []
    merged: dict[str, Any] = {}
    for layer in layers:
        clean = validated(layer, SCHEMA, problems)
        _keep_earlier_globs(layer, clean, merged, problems)
        _merge(merged, clean, _UNIONS)
    profiles = _profiles(layers, merged.get("profiles", {}), problems)
    return Config(
        context=_context(merged.get("context", {}), problems),
        completion=replace(CompletionSettings(), **merged.get("completion", {})),
        privacy=replace(PrivacySettings(), **merged.get("privacy", {})),
        profiles=profiles,
        route=_routes(layers, merged.get("route", {}), profiles, problems),
        sources=sources or tuple(layer.source for layer in layers), problems=tuple(problems),
    )


def _context(values: Mapping[str, Any], problems: list[str]) -> ContextSettings:
    """[context], whose two keys must also agree with each other."""
    context = replace(ContextSettings(), **values)
    if context.reserve_output < context.window:
        return context
    problems.append(f"context.reserve_output ({context.reserve_output}) must be smaller than "
                    f"context.window ({context.window}); using the defaults for both")
    return ContextSettings()


def _profiles(layers: list[Layer], tables: Mapping[str, Mapping[str, Any]],
              problems: list[str]) -> dict[str, Profile]:
    """The built-in `local` profile and each table that names a backend, whose facts fill in
    the url and key variable the table leaves out."""
    profiles = {LOCAL: LOCAL_PROFILE}
    for name, values in tables.items():
        backend = values.get("backend")
        if backend is None:
            problems.append(f"{_origin(layers, ('profiles', name))}: profile '{name}' has no "
                            f"backend (one of {', '.join(BACKENDS)}); the profile is ignored")
            continue
        facts = BACKENDS[backend]
        defaults = {"url": facts.default_url, "api_key_env": facts.key_env}
        profiles[name] = Profile(name=name, **{**defaults, **values})
    return profiles


def _routes(layers: list[Layer], routes: Mapping[str, tuple[str, ...]],
            profiles: Mapping[str, Profile], problems: list[str]) -> dict[str, tuple[str, ...]]:
    """Each task's chain, without the names no profile has; a chain left empty keeps the
    default route."""
    route: dict[str, tuple[str, ...]] = asdict(Routes())
    for task, names in routes.items():
        where = _origin(layers, ("route", task))
        for missing in (n for n in names if n not in profiles):
            problems.append(f"{where}: route.{task} names profile '{missing}', which is not "
                            "defined; it is skipped")
        if known := tuple(n for n in names if n in profiles):
            route[task] = known
        else:
            problems.append(f"{where}: route.{task} has no usable profile; the built-in "
                            f"'{LOCAL}' profile is used")
    return route


_UNIONS = SCHEMA.unions()


def _keep_earlier_globs(layer: Layer, clean: dict[str, Any], merged: Mapping[str, Any],
                        problems: list[str]) -> None:
    """Drop from `clean` each '!' glob of a list that adds up, once an earlier layer has put
    globs in it: in one list the last matching glob wins, so a later layer's '!x' would
    re-include what an earlier layer excludes. A layer's first list may still carve out
    exceptions from its own globs (`["*.sql", "!public/x.sql"]`)."""
    for section, key in _UNIONS:
        new, old = clean.get(section, {}).get(key), merged.get(section, {}).get(key)
        if not new or not old:
            continue
        if dropped := [g for g in new if g.startswith("!")]:
            clean[section][key] = tuple(g for g in new if not g.startswith("!"))
            problems.append(f"{layer.where(section, key)}: {section}.{key} cannot re-include "
                            f"what an earlier settings layer excludes ({', '.join(dropped)}); "
                            "ignored")


def _merge(into: dict[str, Any], update: Mapping[str, Any],
           unions: frozenset[tuple[str, str]], path: tuple[str, ...] = ()) -> None:
    """`update` over `into`, key by key; a list in `unions` adds the new items instead."""
    for key, value in update.items():
        if isinstance(value, Mapping):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            _merge(into[key], value, unions, (*path, key))
        elif (*path, key) in unions and key in into:
            into[key] = tuple(dict.fromkeys((*into[key], *value)))
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


# --------------------------------------------------------------------------- loading


def load_config(
    *,
    explicit: Path | None = None,
    workspace: Path | None = None,
    overrides: list[tuple[Any, str]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The config for a workspace: the user's file, the workspace's file, then the editor's
    settings (`overrides`, in order)."""
    problems: list[str] = []
    layers = _file_layers(explicit, workspace, environ, problems)
    for data, source in overrides or []:
        if isinstance(data, Mapping):
            layers.append(Layer(data, source))
        elif data is not None:
            problems.append(f"{source}: settings must be an object; ignored")
    config = build_config(layers)
    return replace(config, problems=tuple(problems) + config.problems)


def _file_layers(explicit: Path | None, workspace: Path | None,
                 environ: Mapping[str, str] | None, problems: list[str]) -> list[Layer]:
    """A layer per config file that applies, the workspace's own file marked untrusted unless
    the user trusted the workspace."""
    layers: list[Layer] = []
    for path, own in config_files(explicit, workspace, environ):
        if not path.is_file():
            problems.append(f"{path}: config file not found; its settings are skipped")
            continue
        layer, file_problems = read_file_layer(path)
        problems += file_problems
        if layer is None:
            continue
        if own and workspace is not None:
            from deskmate.server.trust import is_trusted  # trust imports this module

            layer = replace(layer, untrusted=not is_trusted(workspace, environ))
        layers.append(layer)
    return layers
