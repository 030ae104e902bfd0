"""What an oversized or endless answer costs the server: peak memory and time, per case.

    python -m bench.bounded_answers [--cases a,b] [--timeout S] [--max-rss-mb N] [--json]

For each case a fresh `deskmate serve` process (real, over stdio, VS Code's capabilities) asks
one Invoked inline completion of a profile whose server (the fake model server from
`tests/fakes/model_server.py`, on 127.0.0.1) answers with that case's body: the issue's
examples at full size — an 8.7 MB gzip body (≈ 9 GB inflated), a 500 MB body, an endless SSE
line, an endless NDJSON line, a 300,000-character answer, an endless stream of valid chunks,
a gzip bomb as an error page — and two controls (a plain and a gzip answer) that must be
answered. Columns:

- **outcome**: the suggestion's length, or the message the user saw, or what went wrong
  (an LSP error, the server dying, no answer within `--timeout`);
- **ms**: request sent → answer received;
- **idle MB**: the server's VmRSS after start-up and one warm-up request (tokenizer, HTTP
  client loaded); **peak MB**: its VmHWM at the end (Linux); **growth MB**: peak − idle.

A watchdog samples the server's VmRSS every 20 ms and kills it past `--max-rss-mb` (default
2000), so a version of Deskmate without the bounds cannot exhaust a shared machine: such a row
reads `>N`. This is a measurement, never a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, redirect_stderr, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from bench.harness import SERVER, hermetic_env, table, vscode_capabilities
from bench.overhead import _jsonable, machine
from tests.fakes.model_server import ModelServer, Reply, gzip_bomb

SOURCE = "def add(a, b):\n    return \n"
SSE, NDJSON = "text/event-stream", "application/x-ndjson"
BLOCK = b"a" * 65536


@dataclass(frozen=True)
class Case:
    backend: str  # openai (StarCoder FIM) or ollama
    reply: Callable[[], Reply]  # built when run: a bomb is not kept in memory between cases
    sent: str  # what the server sends, as the table says it


CASES: dict[str, Case] = {
    "control": Case("openai", lambda: Reply(text="a + b"), "a normal answer"),
    "control-gzip": Case("openai", lambda: Reply(text="a + b", gzip=True),
                         "a normal answer, gzip"),
    "gzip-bomb": Case("openai", lambda: Reply(raw_body=gzip_bomb(8_700_000),
                                              content_encoding="gzip"),
                      "8.7 MB gzip JSON (~9 GB inflated)"),
    "gzip-bomb-sse": Case("openai", lambda: Reply(raw_body=gzip_bomb(8_700_000),
                                                  content_encoding="gzip", content_type=SSE),
                          "8.7 MB gzip event stream"),
    "body-500mb": Case("openai", lambda: Reply(raw_body=b'{"choices": [{"text": "',
                                               repeat=BLOCK, repeat_bytes=500 << 20),
                       "500 MB JSON body"),
    "endless-sse-line": Case("openai", lambda: Reply(raw_body=b'data: {"choices": [{"text": "',
                                                     repeat=BLOCK, content_type=SSE),
                             "one SSE line, never ending"),
    "endless-ndjson-line": Case("ollama", lambda: Reply(raw_body=b'{"response": "',
                                                        repeat=BLOCK, content_type=NDJSON),
                                "one NDJSON line, never ending"),
    "endless-stream": Case("openai", lambda: Reply(
        raw_body=b"", content_type=SSE,
        repeat=b'data: {"choices": [{"text": "return a + b ", "finish_reason": null}]}\n\n' * 64),
        "valid chunks, never finishing"),
    "answer-300k-chars": Case("openai", lambda: Reply(text="x" * 300_000, pieces=30),
                              "a 300,000-character line"),
    "error-page-bomb": Case("openai", lambda: Reply(status=500, raw_body=gzip_bomb(8_700_000),
                                                    content_encoding="gzip"),
                            "HTTP 500, 8.7 MB gzip page"),
}


@dataclass
class Row:
    case: str
    sent: str
    outcome: str = ""
    ms: float = math.nan
    idle_mb: float = math.nan
    peak_mb: float = math.nan
    killed: bool = False  # past --max-rss-mb


def rss_mb(pid: int, name: str = "VmHWM") -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


@asynccontextmanager
async def server(env: dict[str, str], root: Path, options: dict[str, Any]
                 ) -> AsyncIterator[LanguageClient]:
    """`deskmate serve` initialized like VS Code; killed if it does not shut down in 10 s."""
    client = await ClientServerConfig(server_command=SERVER, server_env=env).start()
    assert isinstance(client, LanguageClient)
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=vscode_capabilities(), initialization_options=options,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)]))
        yield client
    finally:
        with suppress(TimeoutError, RuntimeError, ConnectionError):
            await asyncio.wait_for(client.shutdown_session(), 10)
        process = client._server
        if process is not None and process.returncode is None:
            process.kill()
        with suppress(RuntimeError, ConnectionError):
            await client.stop()


def ask(client: LanguageClient, uri: str) -> asyncio.Future[Any]:
    return asyncio.wrap_future(client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=1, character=11),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked))))


async def watchdog(pid: int, limit_mb: float, row: Row, process: Any) -> None:
    """Kill the server once its resident memory passes `limit_mb`."""
    while process.returncode is None:
        if rss_mb(pid, "VmRSS") > limit_mb:
            row.killed = True
            process.kill()
            return
        await asyncio.sleep(0.02)


def profile(backend: str, url: str) -> dict[str, Any]:
    if backend == "ollama":
        return {"backend": "ollama", "url": url, "model": "test-model"}
    return {"backend": "openai", "url": f"{url}/v1", "model": "test-model", "fim": "starcoder"}


async def measure(name: str, case: Case, args: argparse.Namespace, healthy: ModelServer,
                  scratch: Path) -> Row:
    row = Row(name, case.sent)
    faulty = ModelServer().start()
    faulty.reply = case.reply()
    root = scratch / name
    root.mkdir()
    options = {"profiles": {"warm": profile("openai", healthy.url),
                            "bad": profile(case.backend, faulty.url)},
               "route": {"completion": ["warm"]}, "completion": {"debounce_ms": 0,
                                                                 "deadline_ms": 30_000}}
    try:
        async with server(hermetic_env(scratch / f"home-{name}"), root, options) as client:
            process = client._server
            assert process is not None
            path = root / "m.py"
            path.write_text(SOURCE, encoding="utf-8")
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="python",
                                                     version=1, text=SOURCE)))
            await asyncio.wait_for(ask(client, path.as_uri()), args.timeout)  # warm-up
            row.idle_mb = rss_mb(process.pid, "VmRSS")
            await switch_route(client, "bad")
            guard = asyncio.create_task(watchdog(process.pid, args.max_rss_mb, row, process))
            seen = len(client.messages)
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(ask(client, path.as_uri()), args.timeout)
                row.ms = (time.perf_counter() - started) * 1000
                row.outcome = describe(result, client.messages[seen:])
            except TimeoutError:
                row.outcome = f"no answer in {args.timeout:g} s"
            except Exception as exc:  # the LSP error or the lost connection is the outcome
                row.ms = (time.perf_counter() - started) * 1000
                row.outcome = f"{type(exc).__name__}: {str(exc)[:80]}"
            row.peak_mb = rss_mb(process.pid)
            if process.returncode is not None or row.killed:
                row.outcome = (f"killed past {args.max_rss_mb:g} MB" if row.killed
                               else f"server died (exit {process.returncode})")
            guard.cancel()
    finally:
        faulty.stop()
    return row


async def switch_route(client: LanguageClient, name: str) -> None:
    """Route completion to `name` as an editor does, and wait until the server reloaded."""
    seen = len(client.log_messages)
    client.set_configuration({"route": {"completion": [name]}}, section="deskmate")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(f"completion uses: {name}" in m.message for m in client.log_messages[seen:]):
            return
        await asyncio.sleep(0.02)


def describe(result: Any, messages: list[types.ShowMessageParams]) -> str:
    items = getattr(result, "items", None) or []
    if items:
        return f"answered, {len(str(items[0].insert_text)):,} chars"
    warnings = [m.message for m in messages if m.type in (types.MessageType.Warning,
                                                          types.MessageType.Error)]
    if warnings:  # the gist: what follows "completion failed: profile 'bad': "
        text = warnings[0].rsplit("profile 'bad': ", 1)[-1]
        return f"message: {text[:48]}"
    return "no suggestion, no message"


async def run(args: argparse.Namespace) -> list[Row]:
    names = args.cases.split(",") if args.cases else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    healthy = ModelServer(reply=Reply(text="a + b")).start()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="deskmate-bench-") as tmp:
            for name in names:
                # The server's own log lines (forwarded by pytest-lsp) would bury the table.
                with redirect_stderr(io.StringIO()):
                    rows.append(await measure(name, CASES[name], args, healthy, Path(tmp)))
                if not args.json:
                    print(f"  {name}: {rows[-1].outcome}", file=sys.stderr, flush=True)
    finally:
        healthy.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="", help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds each request may take (default 60)")
    parser.add_argument("--max-rss-mb", type=float, default=2000.0,
                        help="kill the server past this resident size (default 2000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args))
    if args.json:
        print(json.dumps(_jsonable({"machine": machine(), "rows": [asdict(r) for r in rows]})))
        return
    info = machine()
    print(f"python {info['python']} on {info['platform']}, {info['cpus']} CPUs, "
          f"load {info['load_average_1min']}")
    print(table(["case", "sent", "outcome", "ms", "idle MB", "peak MB", "growth MB"], [
        [r.case, r.sent, r.outcome, r.ms, r.idle_mb,
         f">{args.max_rss_mb:g}" if r.killed else r.peak_mb,
         f">{args.max_rss_mb - r.idle_mb:.0f}" if r.killed else r.peak_mb - r.idle_mb]
        for r in rows]))


if __name__ == "__main__":
    main()
