"""Memory over a long session: the real server, edited and asked for completions for
minutes on end, its RSS sampled as it goes. Flat is the aim; a leak shows as a slope.

    python -m bench.soak [--minutes 10] [--json]

Every 40 ms one keystroke (didChange) and an as-you-type completion request that cancels
the previous one, as an editor sends them; every few seconds the text typed is deleted again
and the cursor moves to another line, so the document stays the same size while every
cache is exercised. The fake model answers in 50 ms. RSS of the server process is read from
/proc every 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from bench import sample
from bench.harness import (
    hermetic_env,
    inline_params,
    open_document,
    profile_options,
    running_server,
    send_request,
    table,
)
from bench.overhead import machine
from tests.fakes.model_server import ModelServer, Reply

KEY_INTERVAL_S = 0.04
SAMPLE_EVERY_S = 10.0
WORD = "value"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def soak(minutes: float) -> dict[str, Any]:
    model = ModelServer(reply=Reply(text=sample.SUGGESTION, first_byte_delay_s=0.05)).start()
    samples: list[tuple[float, float]] = []
    requests = answered = cancelled = late = 0
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            text, _ = sample.document()
            lines = text.split("\n")
            async with running_server(hermetic_env(root / "home"), root,
                                      profile_options(model)) as client:
                pid = client._server.pid  # type: ignore[union-attr]
                uri = open_document(client, root / "module.py", text)
                version, pending, pending_id = 1, None, ""
                rng = random.Random(1)
                started = time.monotonic()
                next_sample = started
                while time.monotonic() - started < minutes * 60:
                    line = rng.randrange(len(lines))
                    column = len(lines[line])
                    for typed in range(1, len(WORD) + 1):  # type a word...
                        version += 1
                        change(client, uri, version, line, column + typed - 1, WORD[typed - 1])
                        if pending is not None and not pending.done():
                            client.protocol.notify(types.CANCEL_REQUEST,
                                                   types.CancelParams(id=pending_id))
                        pending_id = f"soak-{requests}"
                        pending = send_request(client, inline_params(
                            uri, types.Position(line=line, character=column + typed),
                            invoked=False), msg_id=pending_id)
                        pending.add_done_callback(_retrieved)
                        requests += 1
                        await asyncio.sleep(KEY_INTERVAL_S)
                    assert pending is not None
                    try:
                        await asyncio.wait_for(asyncio.shield(pending), 5)
                        answered += 1
                    except JsonRpcRequestCancelled:
                        cancelled += 1
                    except TimeoutError:
                        late += 1
                    version += 1  # ...then delete it again
                    client.text_document_did_change(types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(uri=uri,
                                                                            version=version),
                        content_changes=[types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=line, character=column),
                                end=types.Position(line=line, character=column + len(WORD))),
                            text="")]))
                    if time.monotonic() >= next_sample:
                        samples.append((time.monotonic() - started, rss_mb(pid)))
                        next_sample += SAMPLE_EVERY_S
                samples.append((time.monotonic() - started, rss_mb(pid)))
    finally:
        model.stop()
    return {"samples": samples, "requests": requests, "backend_calls": len(model.posts()),
            "answered": answered, "cancelled": cancelled, "late": late}


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A superseded request's RequestCancelled error is expected: mark it seen."""
    if not future.cancelled():
        future.exception()


def change(client: Any, uri: str, version: int, line: int, column: int, text: str) -> None:
    at = types.Position(line=line, character=column)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=at, end=at), text=text)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(soak(args.minutes))
    if args.json:
        print(json.dumps({"machine": machine(), **result}))
        return 0
    print(", ".join(f"{k} {v}" for k, v in machine().items()))
    samples = result["samples"]
    print(f"\nSoak: {args.minutes:g} min, {result['requests']} completion requests "
          f"({result['backend_calls']} reached the model), server RSS every "
          f"{SAMPLE_EVERY_S:.0f} s\n")
    step = max(len(samples) // 12, 1)
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    print(table(("minute", "RSS MB"), [(f"{t / 60:.1f}", rss) for t, rss in shown]))
    if len(samples) > 2:
        settled = samples[len(samples) // 4:]
        slope = (settled[-1][1] - settled[0][1]) / max((settled[-1][0] - settled[0][0]) / 60,
                                                      1e-9)
        print(f"\nafter the first quarter: {settled[0][1]:.1f} → {settled[-1][1]:.1f} MB "
              f"({slope:+.2f} MB/min); peak {max(r for _, r in samples):.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
