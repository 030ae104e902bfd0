"""The context engine on a real codebase nobody here wrote: this machine's Python standard
library.

    python -m bench.context [--only PART ...] [--positions N] [--cases N] [--seed N]
                            [--root DIR] [--json] [--profile FILE]

(a) index: cold build (empty cache) against the raw tree-sitter parse of the same files, the
    cold build's steps, and the warm load from the disk cache;
(b) latency: `ContextEngine.window()` (retrieval + packing) at N positions, one per file, at the
    default budget and at 4096 — first pass, then again (warm) — and, at the default
    budget, each step of it (every evidence source on its own);
(c) memory: peak RSS of a fresh process that builds (or loads) the index and packs windows;
(d) recall: how often the definition called on a removed line is in the window, against a
    BM25 sliding-window baseline at the same budget.

The index cache lives in a temporary folder, never in the user's home. Benchmarks print
figures; they never assert timings. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.context_cases import KINDS, build_cases
from bench.context_common import (
    SEED,
    STDLIB,
    engine_for,
    python_paths,
    read_file,
    read_texts,
    vm_rss_mb,
)
from bench.context_index import IndexResult, measure_index
from bench.context_latency import (
    LatencyPass,
    Position,
    measure_latency,
    profile_windows,
    sample_positions,
)
from bench.context_memory import MemoryRow, measure_memory
from bench.context_recall import (
    OUTLINE,
    OUTLINE_NAMING,
    STRICT_HITS,
    Baseline,
    Outcome,
    evaluate,
)
from bench.harness import Summary, table
from bench.overhead import _jsonable, hot_spots, machine
from deskmate.context.engine import ContextEngine
from deskmate.server.config import ContextSettings

PARTS = ("index", "latency", "memory", "recall")
DEFAULT_BUDGET = ContextSettings().window - ContextSettings().reserve_output  # 15360
BUDGETS = (DEFAULT_BUDGET, 4096)
AIM_RATIO, AIM_P95_MS, AIM_RSS_MB, AIM_RECALL, AIM_VS_BASELINE = 1.5, 20.0, 250.0, 0.9, 1.5
MISS_EXAMPLES = 12


# --------------------------------------------------------------------------- tables


def index_table(result: IndexResult, root: Path) -> str:
    head = (f"(a) Index — {root}: {result.files} files indexed ({result.megabytes:.1f} MB), "
            f"{result.grammar_files} with a tree-sitter grammar "
            f"({result.grammar_megabytes:.1f} MB)\n")
    rows = [
        ("cold build_index() (empty cache)", result.cold_ms,
         f"parsed {result.cold_parsed}, cache written ({result.cache_megabytes:.1f} MB)"),
        (f"cold build_index() in {result.workers} worker processes", result.pooled_ms,
         "the CLI's way; the editor's server uses one worker"),
        ("raw parse: parser.parse(bytes) only", result.raw_parse_ms,
         f"{result.grammar_files} files, best of 3"),
        ("warm build_index() (second engine)", result.warm_ms,
         f"parsed {result.warm_parsed}, cached {result.warm_cached}"),
    ]
    ratio = (f"cold / raw parse = {result.ratio:.2f} in one process, "
             f"{result.pooled_ms / result.raw_parse_ms:.2f} with {result.workers} workers "
             f"(aim ≤ {AIM_RATIO}); "
             f"warm / cold = {result.warm_ms / result.cold_ms:.2f}\n")
    steps = [(step, ms, 100 * ms / result.cold_ms) for step, ms in result.steps_ms.items()]
    steps.append(("sum of the steps", sum(result.steps_ms.values()),
                  100 * sum(result.steps_ms.values()) / result.cold_ms))
    return (head + table(("", "ms", ""), rows) + "\n" + ratio
            + "\nThe cold build's steps, re-timed one by one over the same files:\n"
            + table(("step", "ms", "% of cold build"), steps))


def latency_table(passes: Sequence[LatencyPass], positions: Sequence[Position]) -> str:
    files = len({p.path for p in positions})
    head = (f"(b) window() elapsed_ms — {len(positions)} positions in {files} files "
            f"(a fresh engine per budget; first: every file met for the first time; again: "
            f"the same positions once more; typing: {len('total')} keystrokes at each position "
            f"after a first request there), "
            f"aim p95 ≤ {AIM_P95_MS:.0f} ms\n")
    rows = []
    for run in passes:
        s = Summary.of(run.elapsed_ms)
        rows.append((run.budget, run.kind, s.p50, s.p95, s.max,
                     s.mean, run.mean_tokens, run.over_budget))
    return head + table(("budget", "pass", "p50", "p95", "max", "mean", "mean tokens",
                         "over budget"), rows)


def sources_table(passes: Sequence[LatencyPass], budget: int) -> str:
    """Each step of window() on its own: mean and p95 ms per pass at `budget`."""
    chosen = [p for p in passes if p.budget == budget and p.source_ms]
    if not chosen:
        return ""
    steps = list(dict.fromkeys(step for p in chosen for step in p.source_ms))
    head = (f"window() by step at budget {budget}, ms per window (ContextWindow.source_ms: "
            f"setup, the cursor file's parse, open documents looked up, words near the "
            f"cursor, each evidence source, packing)\n")
    rows = []
    for step in steps:
        row: list[object] = [step]
        for run in chosen:
            s = Summary.of(run.source_ms.get(step, []))
            row += [s.mean, s.p95]
        rows.append(row)
    totals: list[object] = ["sum of the steps"]
    for run in chosen:
        per_window = [sum(ms) for ms in zip(*run.source_ms.values(), strict=True)]
        s = Summary.of(per_window)
        totals += [s.mean, s.p95]
    rows.append(totals)
    headers = ["step"] + [f"{run.kind} {stat}" for run in chosen for stat in ("mean", "p95")]
    return head + table(headers, rows)


def memory_table(rows: Sequence[MemoryRow], parent_mb: float) -> str:
    head = (f"(c) Memory of a fresh process (MB): the context package, build_index(), then "
            f"{rows[0].windows if rows else 0} windows at budget {DEFAULT_BUDGET}; "
            f"aim peak ≤ {AIM_RSS_MB:.0f} MB\n"
            f"(ru_maxrss counts the parent's RSS at fork, {parent_mb:.1f} MB, as a floor; "
            f"VmHWM starts afresh at exec)\n")
    return head + table(
        ("cache", "parsed", "cached", "after imports", "after index", "after windows",
         "peak (ru_maxrss)", "VmHWM"),
        [(r.cache, r.parsed, r.cached, r.after_imports_mb, r.after_index_mb,
          r.after_windows_mb, r.peak_mb, r.vm_hwm_mb) for r in rows])


@dataclass(frozen=True)
class RecallRow:
    budget: int
    kind: str  # "all" or one of KINDS
    cases: int
    ours: float  # recall: an included definition, or an outline overlapping it
    strict: float  # the same, outlines counted only when they show the callee's line
    outline_only: int  # cases found only through an outline
    baseline: float
    ratio: float  # ours / baseline
    ours_tokens: float  # mean tokens of the window
    baseline_tokens: float


def recall_rows(outcomes: Sequence[Outcome]) -> list[RecallRow]:
    rows = []
    for budget in sorted({o.budget for o in outcomes}):
        for kind in ("all", *KINDS):
            chosen = [o for o in outcomes if o.budget == budget and kind in ("all", o.case.kind)]
            if not chosen:
                continue
            ours = _mean(bool(o.ours) for o in chosen)
            baseline = _mean(o.baseline for o in chosen)
            rows.append(RecallRow(
                budget=budget, kind=kind, cases=len(chosen), ours=ours,
                strict=_mean(o.ours in STRICT_HITS for o in chosen),
                outline_only=sum(o.ours in (OUTLINE, OUTLINE_NAMING) for o in chosen),
                baseline=baseline, ratio=ours / baseline if baseline else float("nan"),
                ours_tokens=_mean(o.ours_tokens for o in chosen),
                baseline_tokens=_mean(o.baseline_tokens for o in chosen)))
    return rows


def recall_table(outcomes: Sequence[Outcome], available: int) -> str:
    cases = len({(o.case.path, o.case.line) for o in outcomes})
    files = len({o.case.path for o in outcomes})
    head = (f"(d) Definition recall — {cases} cases in {files} files (drawn from {available} "
            f"call lines), aim ≥ {AIM_RECALL} and ≥ {AIM_VS_BASELINE}× the BM25 baseline\n"
            f"ours: an included definition, or an outline overlapping it; strict: an outline "
            f"counts only when its text shows the callee's def/class line\n")
    return head + table(
        ("budget", "kind", "cases", "ours", "strict", "outline only", "BM25 baseline",
         "ours / baseline", "ours tokens", "baseline tokens"),
        [(r.budget, r.kind, r.cases, f"{r.ours:.3f}", f"{r.strict:.3f}", r.outline_only,
          f"{r.baseline:.3f}", f"{r.ratio:.2f}", r.ours_tokens, r.baseline_tokens)
         for r in recall_rows(outcomes)])


def misses_table(outcomes: Sequence[Outcome]) -> str:
    budgets = sorted({o.budget for o in outcomes})
    causes = Counter((o.cause, o.budget) for o in outcomes if not o.ours)
    names = sorted({cause for cause, _ in causes}, key=lambda c: -sum(
        causes[c, b] for b in budgets))
    return "Our misses by cause:\n" + table(
        ("cause", *(f"at {b}" for b in budgets)),
        [(cause, *(causes[cause, b] for b in budgets)) for cause in names])


def miss_examples(outcomes: Sequence[Outcome], budget: int, limit: int = MISS_EXAMPLES,
                  *, only_at: bool = False) -> str:
    """A few misses at `budget`, taken from each cause in turn; with `only_at`, only cases
    found at every other budget."""
    missed_elsewhere = {(o.case.path, o.case.line) for o in outcomes
                        if o.budget != budget and not o.ours}
    by_cause: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if only_at and (outcome.case.path, outcome.case.line) in missed_elsewhere:
            continue
        if outcome.budget == budget and not outcome.ours:
            by_cause.setdefault(outcome.cause, []).append(outcome)
    picked: list[Outcome] = []
    while len(picked) < limit and any(by_cause.values()):
        for misses in by_cause.values():
            if misses and len(picked) < limit:
                picked.append(misses.pop(0))
    lines = [f"Example misses at {budget}" + (" (found at the other budget):" if only_at
                                               else ":")]
    for o in picked:
        c = o.case
        first, last = c.ranges[0]
        lines.append(f"  {c.path}:{c.line}  {c.call}(...) → {c.callee_path}:{first}-{last}"
                     f"\n      {o.cause}" + (f" — {o.detail}" if o.detail else ""))
    return "\n".join(lines)


def _mean(values: Iterable[float]) -> float:
    kept = list(values)
    return sum(kept) / len(kept) if kept else float("nan")


# --------------------------------------------------------------------------- parts


class Run:
    """One benchmark run: its options, its temporary cache folder, and the figures so far.

    The memory part runs first, while this process is still small: a child's ru_maxrss starts
    from its parent's at fork. Tables are still printed in the order (a) to (d)."""

    ORDER = ("memory", "index", "latency", "recall")

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.root: Path = args.root.resolve()
        self.cache_dir = tmp / "cache"
        self.memory_cache_dir = tmp / "memory-cache"
        self.figures: dict[str, Any] = {}
        self.parts = [p for p in PARTS if args.only is None or p in args.only]
        self._tables: dict[str, list[str]] = {}
        self._done: set[str] = set()
        self._printed = 0

    def run(self) -> None:
        for part in self.ORDER:
            if part in self.parts:
                getattr(self, part)()
                self._done.add(part)
                self._flush()

    def show(self, part: str, text: str) -> None:
        self._tables.setdefault(part, []).append(text)

    def _flush(self) -> None:
        """Print the tables of finished parts, in the order of PARTS."""
        while self._printed < len(self.parts) and self.parts[self._printed] in self._done:
            if not self.args.json:
                for text in self._tables.get(self.parts[self._printed], ()):
                    print(text, end="\n\n", flush=True)
            self._printed += 1

    def index(self) -> None:
        result = measure_index(self.root, self.cache_dir)
        self.figures["index"] = asdict(result)
        self.show("index", index_table(result, self.root))

    def latency(self) -> None:
        engine = self._engine()
        read = read_file(engine)
        positions = sample_positions(python_paths(engine), read, self.args.positions,
                                     self.args.seed)
        passes = measure_latency(self.root, self.cache_dir, read, positions, BUDGETS)
        self.figures["latency"] = [
            {"budget": p.budget, "pass": p.kind,
             "elapsed_ms": asdict(Summary.of(p.elapsed_ms)), "over_budget": p.over_budget,
             "mean_tokens": p.mean_tokens,
             "source_ms": {step: asdict(Summary.of(ms)) for step, ms in p.source_ms.items()}}
            for p in passes]
        self.show("latency", latency_table(passes, positions))
        if steps := sources_table(passes, DEFAULT_BUDGET):
            self.show("latency", steps)
        if self.args.profile:
            profile_windows(self.root, self.cache_dir, read, positions, DEFAULT_BUDGET,
                            self.args.profile)
            spots = (f"window() hot spots by own time (cProfile, first pass at "
                     f"{DEFAULT_BUDGET}, {self.args.profile}):\n{hot_spots(self.args.profile)}")
            if self.args.json:
                print(spots, file=sys.stderr)
            else:
                self.show("latency", spots)

    def memory(self) -> None:
        parent = vm_rss_mb()
        rows = measure_memory(self.root, self.memory_cache_dir, positions=self.args.positions,
                              seed=self.args.seed, budget=DEFAULT_BUDGET)
        self.figures["memory"] = {"parent_rss_mb": parent, "rows": [asdict(r) for r in rows]}
        self.show("memory", memory_table(rows, parent))

    def recall(self) -> None:
        engine = self._engine()
        texts = read_texts(engine)
        cases, available = build_cases(texts, self.args.cases, self.args.seed)
        outcomes = evaluate(engine, Baseline(texts), texts, cases, BUDGETS)
        self.figures["recall"] = {"available": available,
                                  "rows": [asdict(r) for r in recall_rows(outcomes)],
                                  "misses": [asdict(o) for o in outcomes if not o.ours]}
        self.show("recall", recall_table(outcomes, available))
        self.show("recall", misses_table(outcomes))
        self.show("recall", miss_examples(outcomes, DEFAULT_BUDGET))
        self.show("recall", miss_examples(outcomes, min(BUDGETS), limit=MISS_EXAMPLES // 2,
                                          only_at=True))

    def _engine(self) -> ContextEngine:
        """An engine on the run's index (built now, untimed, when part (a) did not run)."""
        engine = engine_for(self.root, self.cache_dir)
        engine.build_index()
        return engine


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.context",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=PARTS, metavar="PART",
                        help=f"run only this part (repeatable): {', '.join(PARTS)}")
    parser.add_argument("--positions", type=int, default=250, metavar="N",
                        help="cursor positions for latency and memory, one per file "
                             "(default 250)")
    parser.add_argument("--cases", type=int, default=320, metavar="N",
                        help="definition-recall cases (default 320)")
    parser.add_argument("--seed", type=int, default=SEED, help="sampling seed")
    parser.add_argument("--root", type=Path, default=STDLIB,
                        help="the workspace (default: this Python's standard library)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="also profile window() over the positions (cProfile), save the "
                             "profile to FILE and print its hot spots")
    args = parser.parse_args(argv)
    if args.positions < 1 or args.cases < 1:
        parser.error("--positions and --cases must be at least 1")

    host = machine()
    if not args.json:
        print(f"Python {host['python']} on {host['platform']}, {host['cpus']} CPUs, "
              f"load average {host['load_average_1min']} at start", end="\n\n")
    with tempfile.TemporaryDirectory(prefix="deskmate-bench-context-") as tmp:
        run = Run(args, Path(tmp))
        run.run()
    if args.json:
        print(json.dumps(_jsonable({"machine": host, "root": str(args.root), "seed": args.seed,
                                    **run.figures}), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
