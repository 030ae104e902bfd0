"""How much time Deskmate itself adds to an inline completion, and how many backend calls a
burst of keystrokes costs.

    python -m bench.overhead [--requests N] [--keystrokes N] [--json] [--profile FILE]

1. Server overhead: `deskmate serve` as a real process answers N sequential Invoked
   inline-completion requests at varying positions of a ~300-line Python module; each one
   reaches the fake model server (checked). Overhead = client round trip minus the model
   server's own time for that request.
2. Keystroke bursts: N keystrokes (didChange + an Automatic request, cancelling the previous
   pending request as an editor does) at fixed intervals, with the server's default debounce
   and a model answer that takes ~150 ms; plus one burst that types exactly the suggestion
   (the typed-through cache).

Benchmarks print figures; they never assert timings. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import pstats
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from bench import sample
from bench.harness import (
    SERVER,
    Summary,
    UnknownResponses,
    hermetic_env,
    inline_params,
    open_document,
    profile_options,
    running_server,
    send_request,
    table,
)
from tests.fakes.model_server import ModelServer, Reply

WARMUP = 20
OVERHEAD_REPLY = "self._refresh(record)"
MODEL_LATENCY_S = 0.15  # how long the fake model takes to answer in the burst benchmark
INTERVALS_MS = (10, 30, 60)
TYPED_THROUGH_INTERVAL_MS = 30
OTHER_TEXT, THE_SUGGESTION = "other text", "the suggestion"  # what a burst types
ANSWER_WAIT_S = 10.0  # after the last keystroke, longer than the server's 5 s deadline


# --------------------------------------------------------------------------- 1. overhead


@dataclass(frozen=True)
class OverheadResult:
    requests: int
    backend_calls: int  # POSTs the model server recorded for the measured requests
    one_call_each: bool  # every request made exactly one POST
    suggestions: int  # requests answered with an item
    round_trip_ms: Summary
    backend_ms: Summary
    overhead_ms: Summary


def positions(text: str, count: int) -> list[types.Position]:
    """`count` cursor positions spread over the document's non-blank lines, alternately at
    the end and in the middle of a line; consecutive ones never share a line."""
    lines = text.split("\n")
    candidates = [n for n, line in enumerate(lines) if line.strip()]
    chosen: list[types.Position] = []
    for k in range(count):
        number = candidates[(k * 37) % len(candidates)]
        length = len(lines[number])
        chosen.append(types.Position(line=number, character=length if k % 2 == 0
                                     else length // 2))
    return chosen


async def measure_overhead(model: ModelServer, env: Mapping[str, str], root: Path, *,
                           requests: int, command: Sequence[str] = SERVER) -> OverheadResult:
    text, _ = sample.document()
    model.clear()
    model.reply = Reply(text=OVERHEAD_REPLY)
    round_trips: list[float] = []
    backend: list[float] = []
    calls = suggestions = 0
    one_each = True
    async with running_server(env, root, profile_options(model, debounce_ms=0),
                              command=command) as client:
        uri = open_document(client, root / "inventory.py", text)
        for index, position in enumerate(positions(text, WARMUP + requests)):
            before = len(model.posts())
            started = time.perf_counter()
            result = await send_request(client, inline_params(uri, position, invoked=True))
            elapsed_ms = (time.perf_counter() - started) * 1000
            if index < WARMUP:
                continue
            posts = model.posts()[before:]
            calls += len(posts)
            one_each = one_each and len(posts) == 1
            suggestions += bool(isinstance(result, types.InlineCompletionList) and result.items)
            if len(posts) != 1:
                continue
            post = posts[0]
            if not post.ended:  # the model server's thread may still be recording
                await asyncio.to_thread(model.wait_for, lambda p=post: p.ended > 0, 2.0)
            round_trips.append(elapsed_ms)
            backend.append(post.server_ms)
    return OverheadResult(
        requests=requests, backend_calls=calls, one_call_each=one_each, suggestions=suggestions,
        round_trip_ms=Summary.of(round_trips), backend_ms=Summary.of(backend),
        overhead_ms=Summary.of([rt - b for rt, b in zip(round_trips, backend, strict=True)]),
    )


# --------------------------------------------------------------------------- 2. bursts


@dataclass(frozen=True)
class BurstRow:
    typing: str  # OTHER_TEXT or THE_SUGGESTION
    interval_ms: int
    keystrokes: int
    backend_calls: int
    client_closed: int  # backend calls the server hung up on (outcome "client-closed")
    results: int  # requests answered with a result
    cancelled: int  # requests answered with RequestCancelled
    errors: int  # requests answered with another error
    unanswered: int  # requests with no answer ANSWER_WAIT_S after the last keystroke
    duplicate_answers: int  # responses to a request that had already been answered
    last_key_to_suggestion_ms: float  # nan when the last request showed nothing
    last_call_model_ms: float  # the model server's time for the final backend call (nan: none)
    final_suggestion_chars: int


@dataclass(frozen=True)
class Answer:
    kind: str  # result | cancelled | error | none (no answer in time)
    sent: float
    received: float
    result: Any = None


async def _answer(pending: asyncio.Future[Any], sent: float) -> Answer:
    try:
        result = await pending
    except JsonRpcRequestCancelled:
        return Answer("cancelled", sent, time.perf_counter())
    except JsonRpcException:
        return Answer("error", sent, time.perf_counter())
    return Answer("result", sent, time.perf_counter(), result)


def _suggestion(result: Any) -> str:
    """The first item's text of an inline completion result, structured or raw JSON."""
    items = getattr(result, "items", None)
    if items is None and isinstance(result, dict):
        items = result.get("items")
    if items is None and isinstance(result, list):
        items = result
    if not items:
        return ""
    first = items[0]
    text = getattr(first, "insert_text", None)
    if text is None and isinstance(first, dict):
        text = first.get("insertText")
    return text if isinstance(text, str) else ""


async def type_burst(client: LanguageClient, uri: str, start: types.Position, typed: str,
                     interval_s: float, tag: str) -> list[Answer]:
    """Type `typed` one key every `interval_s` as an editor does: cancel the pending request,
    send the change, ask for a suggestion at the new cursor. The answers, in key order."""
    loop = asyncio.get_running_loop()
    cursor = sample.Cursor.at(start)
    answers: list[asyncio.Task[Answer]] = []
    previous = ""
    began = loop.time()
    for index, char in enumerate(typed):
        await asyncio.sleep(max(0.0, began + index * interval_s - loop.time()))
        if answers and not answers[-1].done():
            client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=previous))
        at = cursor.position()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=index + 2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=at, end=at), text=char)]))
        cursor.advance(char)
        previous = f"{tag}-{index}"
        sent = time.perf_counter()
        pending = send_request(client, inline_params(uri, cursor.position(), invoked=False),
                               msg_id=previous)
        answers.append(asyncio.ensure_future(_answer(pending, sent)))
    await asyncio.wait(answers, timeout=ANSWER_WAIT_S)
    for task in answers:
        task.cancel()
    return [t.result() if t.done() and not t.cancelled() else Answer("none", 0, 0)
            for t in answers]


async def measure_burst(client: LanguageClient, model: ModelServer, root: Path, *,
                        typing: str, interval_ms: int, keystrokes: int,
                        unknown: UnknownResponses) -> BurstRow:
    text, start = sample.document()
    tag = f"{'through' if typing == THE_SUGGESTION else 'other'}-{interval_ms}"
    uri = open_document(client, root / f"burst_{tag}.py", text)
    if typing == THE_SUGGESTION:
        # The suggestion is on screen first; then the user types it, key by key.
        await send_request(client, inline_params(uri, start, invoked=True))
        await _settle(model)
        typed = sample.SUGGESTION[:min(keystrokes, len(sample.SUGGESTION) - 1)]
    else:
        typed = sample.other_text(keystrokes)
    model.clear()
    duplicates_before = unknown.count
    answers = await type_burst(client, uri, start, typed, interval_ms / 1000, tag)
    await _settle(model)
    await asyncio.sleep(0.2)  # a late duplicate answer would arrive now
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    posts = model.posts()
    last = answers[-1]
    shown = _suggestion(last.result) if last.kind == "result" else ""
    return BurstRow(
        typing=typing, interval_ms=interval_ms, keystrokes=len(typed),
        backend_calls=len(posts),
        client_closed=sum(p.outcome == "client-closed" for p in posts),
        results=sum(a.kind == "result" for a in answers),
        cancelled=sum(a.kind == "cancelled" for a in answers),
        errors=sum(a.kind == "error" for a in answers),
        unanswered=sum(a.kind == "none" for a in answers),
        duplicate_answers=unknown.count - duplicates_before,
        last_key_to_suggestion_ms=(last.received - last.sent) * 1000 if shown else math.nan,
        last_call_model_ms=(posts[-1].server_ms if posts and posts[-1].outcome == "complete"
                            else math.nan),
        final_suggestion_chars=len(shown),
    )


async def _settle(model: ModelServer) -> None:
    """Wait until the model server has finished every exchange it started."""
    await asyncio.to_thread(
        model.wait_for, lambda: all(p.outcome != "open" for p in model.posts()), 5.0)


async def measure_bursts(model: ModelServer, env: Mapping[str, str], root: Path, *,
                         keystrokes: int) -> list[BurstRow]:
    model.clear()
    model.reply = Reply(text=sample.SUGGESTION, first_byte_delay_s=MODEL_LATENCY_S)
    unknown = UnknownResponses()
    json_rpc_log = logging.getLogger("pygls.protocol.json_rpc")
    json_rpc_log.addHandler(unknown)
    rows: list[BurstRow] = []
    try:
        # The server's default debounce: no "completion" settings at all.
        async with running_server(env, root, profile_options(model)) as client:
            # The first completion loads the tokenizer; keep it out of the first burst.
            text, start = sample.document()
            warm = open_document(client, root / "warm_up.py", text)
            await send_request(client, inline_params(warm, start, invoked=True))
            await _settle(model)
            runs = [(OTHER_TEXT, ms) for ms in INTERVALS_MS]
            runs.append((THE_SUGGESTION, TYPED_THROUGH_INTERVAL_MS))
            for typing, interval_ms in runs:
                rows.append(await measure_burst(client, model, root, typing=typing,
                                                interval_ms=interval_ms,
                                                keystrokes=keystrokes, unknown=unknown))
    finally:
        json_rpc_log.removeHandler(unknown)
    return rows


# --------------------------------------------------------------------------- report


def overhead_table(result: OverheadResult) -> str:
    rows = [(name, s.p50, s.p95, s.max, s.mean) for name, s in (
        ("round trip (client)", result.round_trip_ms),
        ("backend (model server)", result.backend_ms),
        ("overhead (difference)", result.overhead_ms),
    )]
    head = (f"Server overhead — {result.requests} sequential Invoked requests "
            f"(after {WARMUP} warm-up), debounce 0, ms\n"
            f"backend calls: {result.backend_calls} for {result.requests} requests "
            f"(exactly one each: {'yes' if result.one_call_each else 'NO'}); "
            f"answered with a suggestion: {result.suggestions}\n")
    return head + table(("", "p50", "p95", "max", "mean"), rows)


def burst_table(rows: Sequence[BurstRow]) -> str:
    head = (f"Keystroke bursts — default debounce, model answers in "
            f"{MODEL_LATENCY_S * 1000:.0f} ms\n")
    return head + table(
        ("typing", "every ms", "keys", "backend calls", "client-closed", "results",
         "cancelled", "errors", "unanswered", "duplicates", "last key → suggestion ms",
         "of which model ms", "suggestion chars"),
        [(r.typing, r.interval_ms, r.keystrokes, r.backend_calls, r.client_closed, r.results,
          r.cancelled, r.errors, r.unanswered, r.duplicate_answers,
          r.last_key_to_suggestion_ms, r.last_call_model_ms, r.final_suggestion_chars)
         for r in rows])


def hot_spots(profile: Path, limit: int = 25) -> str:
    """The server's functions by own time (cProfile), idle waiting left out."""
    stats = pstats.Stats(str(profile))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    idle = ("select", "poll", "epoll", "_run_once", "wait")
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in raw.items():
        if any(word in name for word in idle):
            continue
        rows.append((own, calls, cumulative, f"{Path(file).name}:{line}({name})"))
    rows.sort(reverse=True)
    return table(("function", "calls", "own ms", "cumulative ms"),
                 [(where, calls, own * 1000, cum * 1000)
                  for own, calls, cum, where in rows[:limit]])


def _jsonable(value: Any) -> Any:
    """Figures rounded to 0.01 ms, NaN as null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 2)
    return value


# --------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean little without it."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return {"python": platform.python_version(), "platform": platform.platform(terse=True),
            "cpus": os.cpu_count(), "load_average_1min": round(load, 2)}


async def run(args: argparse.Namespace) -> tuple[OverheadResult, list[BurstRow]]:
    model = ModelServer().start()
    command = SERVER
    if args.profile:
        command = [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()),
                   "-m", "deskmate.server", "serve"]
    try:
        with tempfile.TemporaryDirectory(prefix="deskmate-bench-") as tmp:
            env = hermetic_env(Path(tmp) / "home")
            root = Path(tmp) / "ws"
            root.mkdir()
            overhead = await measure_overhead(model, env, root, requests=args.requests,
                                              command=command)
            bursts = await measure_bursts(model, env, root, keystrokes=args.keystrokes)
    finally:
        model.stop()
    return overhead, bursts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, metavar="N",
                        help="measured requests in the overhead benchmark (default 200)")
    parser.add_argument("--keystrokes", type=int, default=200, metavar="N",
                        help="keystrokes per burst (default 200)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="run the overhead benchmark's server under cProfile, save the "
                             "profile to FILE and print its hot spots")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.keystrokes < 1:
        parser.error("--requests and --keystrokes must be at least 1")

    host = machine()
    overhead, bursts = asyncio.run(run(args))
    if args.json:
        print(json.dumps(_jsonable({"machine": host, "overhead": asdict(overhead),
                                    "bursts": [asdict(r) for r in bursts]}), indent=2))
    else:
        print(f"Python {host['python']} on {host['platform']}, {host['cpus']} CPUs, "
              f"load average {host['load_average_1min']} at start", end="\n\n")
        print(overhead_table(overhead), end="\n\n")
        print(burst_table(bursts))
    if args.profile:
        print(f"\nServer hot spots by own time (cProfile, {args.profile}; start-up included: "
              f"imports, tokenizer load):\n{hot_spots(args.profile)}",
              file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
