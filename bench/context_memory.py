"""(c) Memory: the context engine alone in a fresh process — imports, index build, windows —
so nothing else the benchmark holds (texts, the baseline's index) is counted.

    python -m bench.context_memory --root DIR --cache-dir DIR [--positions N] [--seed N]
        [--budget N]

prints one JSON object; `bench.context` runs it twice (empty cache, then warm)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.context_common import (
    engine_for,
    peak_rss_mb,
    python_paths,
    read_file,
    vm_rss_mb,
)
from bench.context_latency import run_pass, sample_positions

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MemoryRow:
    cache: str  # "empty" (cold build) or "warm"
    parsed: int
    cached: int
    after_imports_mb: float  # VmRSS once the context package is imported
    after_index_mb: float  # VmRSS after build_index()
    after_windows_mb: float  # VmRSS after the windows
    windows: int
    peak_mb: float  # ru_maxrss
    vm_hwm_mb: float  # VmHWM, the kernel's own peak


def measure(root: Path, cache_dir: Path, positions: int, seed: int,
            budget: int) -> dict[str, float]:
    """Runs in the child: the figures of one process's life."""
    after_imports = vm_rss_mb()
    engine = engine_for(root, cache_dir)
    stats = engine.build_index()
    assert stats is not None
    assert engine.root is not None
    after_index = vm_rss_mb()
    read = read_file(engine)
    chosen = sample_positions(python_paths(engine), read, positions, seed)
    run_pass(engine, read, chosen, budget, kind="first")
    return {"parsed": stats.parsed, "cached": stats.cached, "after_imports_mb": after_imports,
            "after_index_mb": after_index, "after_windows_mb": vm_rss_mb(),
            "windows": len(chosen), "peak_mb": peak_rss_mb(), "vm_hwm_mb": vm_rss_mb("VmHWM")}


def measure_memory(root: Path, cache_dir: Path, *, positions: int, seed: int,
                   budget: int) -> list[MemoryRow]:
    """Two fresh processes: the first builds into the empty `cache_dir`, the second loads it."""
    rows = []
    for cache in ("empty", "warm"):
        command = [sys.executable, "-m", "bench.context_memory", "--root", str(root),
                   "--cache-dir", str(cache_dir), "--positions", str(positions),
                   "--seed", str(seed), "--budget", str(budget)]
        env = dict(os.environ, XDG_CACHE_HOME=str(cache_dir))
        done = subprocess.run(command, cwd=REPOSITORY, env=env, capture_output=True, text=True,
                              check=True, timeout=600)
        rows.append(MemoryRow(cache=cache, **json.loads(done.stdout)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.context_memory")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--positions", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=15360)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.root, args.cache_dir, args.positions, args.seed,
                             args.budget)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
