"""(b) `elapsed_ms`: the time `ContextEngine.window()` takes (retrieval + packing, the index
already loaded) at cursor positions spread over many files, most of them seen for the first
time — what a user opening file after file meets."""

from __future__ import annotations

import cProfile
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.context_common import engine_for
from deskmate.context.budget import count_line_tokens
from deskmate.context.engine import ContextEngine
from deskmate.context.pack import ContextWindow


@dataclass(frozen=True)
class Position:
    path: str
    line: int  # 1-based
    offset: int  # index into the file's text


@dataclass(frozen=True)
class LatencyPass:
    budget: int
    # "first": every file met for the first time; "again": the same positions once more,
    # same engine; "typing": keystrokes typed at each position after a first (untimed)
    # request there, as an editor sends them while the user types.
    kind: str
    elapsed_ms: list[float]
    over_budget: int  # windows with more tokens than the budget (must be 0)
    mean_tokens: float
    # Each step's milliseconds per window (`ContextWindow.source_ms`: setup, parse,
    # documents, words, each evidence source, pack); empty for an engine without it.
    source_ms: dict[str, list[float]] = field(default_factory=dict)


def sample_positions(paths: Sequence[str], read: Callable[[str], str | None], count: int,
                     seed: int) -> list[Position]:
    """`count` positions, one per file drawn at random from `paths`, each on a random non-blank
    line: after its indentation, in its middle or at its end, in turn."""
    rng = random.Random(seed)
    chosen: list[Position] = []
    for path in rng.sample(list(paths), len(paths)):
        text = read(path)
        if not text or not text.strip():
            continue
        lines = text.split("\n")
        number = rng.choice([n for n, line in enumerate(lines) if line.strip()])
        line = lines[number]
        column = (len(line) - len(line.lstrip()), len(line) // 2, len(line))[len(chosen) % 3]
        start = sum(len(earlier) + 1 for earlier in lines[:number])
        chosen.append(Position(path, number + 1, start + column))
        if len(chosen) == count:
            break
    return chosen


def run_pass(engine: ContextEngine, read: Callable[[str], str | None],
             positions: Sequence[Position], budget: int, *, kind: str,
             profiler: cProfile.Profile | None = None) -> LatencyPass:
    """One `window()` per position, each timed alone (reading the file is not timed)."""
    elapsed: list[float] = []
    tokens: list[int] = []
    steps: dict[str, list[float]] = {}
    for position in positions:
        text = read(position.path) or ""
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        window = engine.window(path=position.path, text=text, offset=position.offset,
                               budget=budget)
        elapsed.append((time.perf_counter() - started) * 1000)
        if profiler is not None:
            profiler.disable()
        tokens.append(window.tokens)
        _add_steps(steps, window)
    return LatencyPass(budget=budget, kind=kind, elapsed_ms=elapsed,
                       over_budget=sum(t > budget for t in tokens),
                       mean_tokens=sum(tokens) / max(len(tokens), 1), source_ms=steps)


def _add_steps(steps: dict[str, list[float]], window: ContextWindow) -> None:
    for step, ms in getattr(window, "source_ms", {}).items():
        steps.setdefault(step, []).append(ms)


TYPED = "total"  # typed one character per request at each position


def run_typing_pass(engine: ContextEngine, read: Callable[[str], str | None],
                    positions: Sequence[Position], budget: int) -> LatencyPass:
    """At each position, one untimed request (the document is opened and parsed), then one
    timed request per character typed there: the steady state of an open document."""
    elapsed: list[float] = []
    tokens: list[int] = []
    steps: dict[str, list[float]] = {}
    for position in positions:
        text = read(position.path) or ""
        engine.window(path=position.path, text=text, offset=position.offset, budget=budget)
        for typed in range(1, len(TYPED) + 1):
            edited = text[:position.offset] + TYPED[:typed] + text[position.offset:]
            started = time.perf_counter()
            window = engine.window(path=position.path, text=edited,
                                   offset=position.offset + typed, budget=budget)
            elapsed.append((time.perf_counter() - started) * 1000)
            tokens.append(window.tokens)
            _add_steps(steps, window)
    return LatencyPass(budget=budget, kind="typing", elapsed_ms=elapsed,
                       over_budget=sum(t > budget for t in tokens),
                       mean_tokens=sum(tokens) / max(len(tokens), 1), source_ms=steps)


def fresh_engine(root: Path, cache_dir: Path) -> ContextEngine:
    """A new engine on the cached index, as a restarted server has it: no file seen yet, no
    line counted yet (the token-count cache is process-wide, so it is emptied)."""
    engine = engine_for(root, cache_dir)
    engine.build_index()
    count_line_tokens.cache_clear()
    return engine


def measure_latency(root: Path, cache_dir: Path, read: Callable[[str], str | None],
                    positions: Sequence[Position], budgets: Sequence[int]
                    ) -> list[LatencyPass]:
    """For each budget, a fresh engine: a first pass (files seen for the first time), a
    second over the same positions, then typing at each position."""
    _warm_up(root, cache_dir, read, positions)
    passes = []
    for budget in budgets:
        engine = fresh_engine(root, cache_dir)
        passes.append(run_pass(engine, read, positions, budget, kind="first"))
        passes.append(run_pass(engine, read, positions, budget, kind="again"))
        passes.append(run_typing_pass(engine, read, positions, budget))
    return passes


def profile_windows(root: Path, cache_dir: Path, read: Callable[[str], str | None],
                    positions: Sequence[Position], budget: int, output: Path) -> None:
    """A first pass under cProfile (only the `window()` calls), saved to `output`."""
    _warm_up(root, cache_dir, read, positions)
    engine = fresh_engine(root, cache_dir)
    profiler = cProfile.Profile()
    run_pass(engine, read, positions, budget, kind="first", profiler=profiler)
    profiler.dump_stats(str(output))


def _warm_up(root: Path, cache_dir: Path, read: Callable[[str], str | None],
             positions: Sequence[Position]) -> None:
    """Load the tokenizer and the grammar (once per process, not per request)."""
    if positions:
        run_pass(fresh_engine(root, cache_dir), read, positions[:1], 4096, kind="first")
