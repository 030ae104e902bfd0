"""One document's size never slows another's completion: the round trip of Invoked inline
completions in a 120-line file, through the real server over stdio, with

- nothing else open;
- a 13 MB Python file merely open in another tab;
- a 20 MB Python file whose own completion request is running at the same time (its model
  call answers slowly, so its request is always in flight while the small one is measured,
  and a new one starts — context gathering and all — before each small request).

The model server answers at once for the small file, so the figures are Deskmate's own.

    python -m bench.side_by_side [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from bench.harness import (
    Summary,
    hermetic_env,
    inline_params,
    open_document,
    profile_options,
    running_server,
    send_request,
    table,
)
from tests.fakes.model_server import ModelServer, Reply

SMALL_LINES = 120
BIG_MARKER = "big_document_cursor_marker"


def small_source() -> str:
    body = [f"def helper_{i}(values):\n    return sum(values) * {i}\n\n" for i in range(38)]
    return "import math\n\n" + "".join(body) + "def mean(values):\n    return \n"


def big_source(megabytes: float) -> str:
    """Real Python code (the standard library's json package), repeated to the size, with a
    marker where the big document's cursor goes."""
    import json as json_package

    folder = Path(json_package.__file__).parent
    unit = "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py")))
    copies = int(megabytes * 1_000_000 / len(unit)) + 1
    half = copies // 2
    return unit * half + f"def {BIG_MARKER}():\n    return \n" + unit * (copies - half)


def small_cursors(text: str) -> list[types.Position]:
    """The end of each helper's `return` line: a different line every request, so the
    typed-through cache never answers and every request does the whole job."""
    positions = []
    for i in range(38):
        positions.append(cursor_of(text, f"def helper_{i}(values):\n    return "))
    return positions


def cursor_of(text: str, needle: str) -> types.Position:
    offset = text.index(needle) + len(needle)
    line = text.count("\n", 0, offset)
    return types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


async def measure(requests: int, scenario: str, workdir: Path) -> dict[str, Any]:
    model = ModelServer().start()
    model.reply = Reply(text="sum(values) / len(values)")
    model.reply_when(BIG_MARKER, Reply(text="None", first_byte_delay_s=2.0))
    root = workdir / scenario
    root.mkdir()
    options = profile_options(model, debounce_ms=0)
    options["completion"]["deadline_ms"] = 30_000
    times: list[float] = []
    try:
        async with running_server(hermetic_env(workdir / f"home-{scenario}"), root,
                                  options) as client:
            small = small_source()
            small_uri = open_document(client, root / "small.py", small)
            small_at = small_cursors(small)
            big_uri, big_at = None, None
            if scenario != "alone":
                big = big_source(13 if scenario == "13 MB open" else 20)
                big_uri = open_document(client, root / "big.py", big)
                big_at = cursor_of(big, f"def {BIG_MARKER}():\n    return ")
            for at in small_at[-5:]:  # warm-up: tokenizer, HTTP client, first parse
                await send_request(client, inline_params(small_uri, at, invoked=True))
            pending: list[asyncio.Future[Any]] = []
            for index in range(requests):
                if scenario == "20 MB request running" and big_uri and big_at:
                    pending.append(send_request(client, inline_params(big_uri, big_at,
                                                                      invoked=True),
                                                msg_id=f"big-{index}"))
                    await asyncio.sleep(0.005)  # its context work is under way
                at = small_at[index % (len(small_at) - 5)]
                started = time.perf_counter()
                await send_request(client, inline_params(small_uri, at, invoked=True))
                times.append((time.perf_counter() - started) * 1000)
            for index, _ in enumerate(pending):
                client.protocol.notify("$/cancelRequest", {"id": f"big-{index}"})
            await asyncio.gather(*pending, return_exceptions=True)
    finally:
        model.stop()
    summary = Summary.of(times)
    return {"scenario": scenario, "requests": len(times), "p50": summary.p50,
            "p95": summary.p95, "max": summary.max}


async def main_async(requests: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("alone", "13 MB open", "20 MB request running"):
            rows.append(await measure(requests, scenario, Path(tmp)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(main_async(args.requests))
    if args.json:
        print(json.dumps(rows))
        return
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{sys.platform}; small-file inline completion round trip, ms")
    print(table(["scenario", "requests", "p50", "p95", "max"],
                [[r["scenario"], r["requests"], r["p50"], r["p95"], r["max"]] for r in rows]))


if __name__ == "__main__":
    main()
