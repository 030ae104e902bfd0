"""The bundled local model on this machine: load time, time to first token, tokens per second.

    python -m bench.local [--runs N] [--json]

Each run is a fresh process (a model loads once per process), so load time is what a user
meets when the server starts. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from bench.harness import Summary, table
from bench.overhead import machine

PROMPTS = {
    # Mid-statement, as completions are: the model continues the text before the cursor.
    "completion": "def mean(values: list[float]) -> float:\n"
                  "    \"\"\"The arithmetic mean of `values`.\"\"\"\n"
                  "    if not values:\n        return 0.0\n    return",
}


async def one_run() -> dict[str, float]:
    """In this process: load the model, then time a completion through the backend."""
    from deskmate.server.backends.base import FimRequest, generate
    from deskmate.server.backends.local import LocalBackend
    from deskmate.server.config import LOCAL_PROFILE

    backend = LocalBackend(LOCAL_PROFILE)
    started = time.perf_counter()
    model = await backend.model()
    load_ms = (time.perf_counter() - started) * 1000
    request = FimRequest(prefix=PROMPTS["completion"], suffix="", max_tokens=64,
                         temperature=0.0)
    generation = await generate(backend, request)
    first = generation.first_token_ms or 0.0
    decode_s = max(generation.total_ms - first, 1.0) / 1000
    return {
        "load_ms": load_ms,
        "model_load_ms": model.info.load_ms,
        "prompt_tokens_per_s": model.prompt_rate,
        "first_token_ms": first,
        "tokens_per_s": max(generation.output_tokens - 1, 1) / decode_s,
        "output_tokens": float(generation.output_tokens),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, metavar="N")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(one_run())))
        return 0
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        done = subprocess.run([sys.executable, "-m", "bench.local", "--one"],
                              capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps({"machine": machine(), "runs": runs}))
        return 0
    print(", ".join(f"{k} {v}" for k, v in machine().items()))
    print(f"\nLocal model (SmolLM2-135M-Instruct Q4_1, bundled), {args.runs} fresh processes\n")
    rows = []
    for key, label in (("model_load_ms", "model file loaded, ms"),
                       ("load_ms", "ready (load + prompt-speed probe), ms"),
                       ("first_token_ms", "time to first token, ms"),
                       ("tokens_per_s", "generation, tokens/s"),
                       ("prompt_tokens_per_s", "prompt reading, tokens/s")):
        values = [run[key] for run in runs]
        rows.append((label, Summary.of(values).p50, min(values), max(values)))
    print(table(("", "median", "min", "max"), rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
