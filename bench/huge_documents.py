"""What a huge open document costs the server: `didOpen`, each keystroke in it, and memory.

    python -m bench.huge_documents [--sizes 1,20,67,210] [--keystrokes N] [--timeout S]
                                   [--text unicode|astral|ascii] [--json]

For each size, a fresh `deskmate serve` process (real, over stdio, VS Code's capabilities,
the fake model server from `tests/fakes/model_server.py` answering completions) opens a small
Python module and then a document of that many MB of real Python code (the standard library's
modules, repeated whole; see `repeated_code` for `--text`). Then, `--keystrokes` times each:

- **own**: a `didChange` typing one character in the middle of the huge document, and at once
  an Invoked `textDocument/inlineCompletion` right after it: didChange sent → answer received;
- **other**: the same keystroke in the huge document, then a request in the small module.

**open** is `didOpen` of the huge document sent (client-side JSON encoding included) → the
answer to a request in the small module sent right after it. **peak RSS** is the server
process's VmHWM at the end (Linux), **idle RSS** its VmRSS before the huge document was
opened, **growth/size** how many times the document's size the difference is, and **end RSS**
its VmRSS after the keystrokes (what it keeps). A request unanswered within `--timeout`
seconds ends that size's row (a blocked server would otherwise take hours): its figure reads
`>S`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from bench.context_common import STDLIB
from bench.harness import (
    SERVER,
    Summary,
    hermetic_env,
    profile_options,
    table,
    vscode_capabilities,
)
from bench.overhead import _jsonable, machine
from tests.fakes.model_server import ModelServer

SIZES_MB = (1.0, 20.0, 67.0, 210.0)
SOURCES = ("argparse.py", "textwrap.py", "json/decoder.py", "subprocess.py", "typing.py",
           "dataclasses.py", "pathlib.py", "logging/__init__.py")
SMALL = "import os\n\n\ndef home() -> str:\n    return \n"
# Requests in the small module alternate between these, so the typed-through cache never
# answers one (each goes through the context window and the model, as a real request does).
SMALL_AT = ((4, 11), (2, 0))


def repeated_code(megabytes: float, kind: str = "unicode") -> str:
    """`megabytes` MB (UTF-8) of real code, cut at a line: the standard library's modules
    (all ASCII) repeated whole; with `kind="unicode"` each copy opens with a comment holding
    a few accented letters and an arrow, as much real code does (a Python string then takes 2
    bytes a character), with "astral" an emoji too (4 bytes a character)."""
    unit = "\n\n".join((STDLIB / name).read_text(encoding="utf-8") for name in SOURCES)
    if kind == "unicode":
        unit = "# r\u00e9sum\u00e9 \u2192 na\u00efve\n" + unit
    elif kind == "astral":
        unit = "# r\u00e9sum\u00e9 \u2192 na\u00efve \N{PARTY POPPER}\n" + unit
    size = int(megabytes * 1_000_000)
    text = (unit * (size // len(unit.encode()) + 1))
    text = text.encode()[:size].decode(errors="ignore")
    return text[:text.rfind("\n") + 1]


@dataclass
class Row:
    size_mb: float
    open_ms: float = math.nan
    own_ms: list[float] = field(default_factory=list)
    other_ms: list[float] = field(default_factory=list)
    idle_rss_mb: float = math.nan  # the server before the huge document is opened
    peak_rss_mb: float = math.nan
    end_rss_mb: float = math.nan  # the server after the keystrokes
    timed_out: str = ""  # what did not answer within the timeout


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
        with suppress(TimeoutError, RuntimeError):
            await asyncio.wait_for(client.shutdown_session(), 10)
        process = client._server
        if process is not None and process.returncode is None:
            process.kill()
        await client.stop()


def ask(client: LanguageClient, uri: str, line: int, character: int) -> asyncio.Future[Any]:
    return asyncio.wrap_future(client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked))))


def open_document(client: LanguageClient, path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="python",
                                             version=1, text=text)))
    return path.as_uri()


def middle(text: str) -> tuple[int, int]:
    """The line in the middle of `text` and the length of that line (where typing goes)."""
    start = text.rfind("\n", 0, len(text) // 2) + 1
    end = text.find("\n", start)
    return text.count("\n", 0, start), (len(text) if end < 0 else end) - start


def keystroke(client: LanguageClient, uri: str, version: int, line: int, column: int) -> None:
    """One character typed at `line`:`column`, as an editor sends it."""
    at = types.Position(line=line, character=column)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=at, end=at), text="x")]))


async def measure(size_mb: float, keystrokes: int, limit_s: float, model: ModelServer,
                  scratch: Path, kind: str) -> Row:
    row = Row(size_mb)
    root = scratch / f"ws{size_mb:g}"
    root.mkdir()
    text = repeated_code(size_mb, kind)
    line, column = middle(text)
    env = hermetic_env(scratch / f"home{size_mb:g}")
    async with server(env, root, profile_options(model, debounce_ms=0)) as client:
        assert client._server is not None
        pid = client._server.pid
        small = open_document(client, root / "small.py", SMALL)
        await asyncio.wait_for(ask(client, small, *SMALL_AT[0]), limit_s)  # warm: tokenizer, HTTP
        row.idle_rss_mb = rss_mb(pid, "VmRSS")
        started = time.perf_counter()
        huge = open_document(client, root / "huge.py", text)
        del text
        version = 1
        try:
            await asyncio.wait_for(ask(client, small, *SMALL_AT[0]), limit_s)
            row.open_ms = (time.perf_counter() - started) * 1000
            for _ in range(keystrokes):
                for own in (True, False):
                    version += 1
                    sent = time.perf_counter()
                    keystroke(client, huge, version, line, column)
                    column += 1
                    answer = ask(client, huge, line, column) if own else \
                        ask(client, small, *SMALL_AT[len(row.other_ms) % 2])
                    await asyncio.wait_for(answer, limit_s)
                    (row.own_ms if own else row.other_ms).append(
                        (time.perf_counter() - sent) * 1000)
        except TimeoutError:
            row.timed_out = "open" if math.isnan(row.open_ms) else \
                "own" if len(row.own_ms) == len(row.other_ms) else "other"
        row.peak_rss_mb = rss_mb(pid)
        row.end_rss_mb = rss_mb(pid, "VmRSS")
    return row


def figures(row: Row, timeout: float) -> list[object]:
    def shown(value: float, what: str) -> object:
        return f">{timeout * 1000:.0f}" if row.timed_out == what and math.isnan(value) else value

    own, other = Summary.of(row.own_ms), Summary.of(row.other_ms)
    return [f"{row.size_mb:g} MB", shown(row.open_ms, "open"),
            shown(own.p50, "own"), shown(own.p95, "own"),
            shown(other.p50, "other"), shown(other.p95, "other"),
            row.idle_rss_mb, row.peak_rss_mb,
            f"{(row.peak_rss_mb - row.idle_rss_mb) / row.size_mb:.1f}x", row.end_rss_mb]


async def run(args: argparse.Namespace) -> list[Row]:
    model = ModelServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="deskmate-huge-") as scratch:
            rows = []
            for size in args.sizes:
                rows.append(await measure(size, args.keystrokes, args.timeout, model,
                                          Path(scratch), args.text))
                if not args.json:
                    print(f"  measured {size:g} MB", file=sys.stderr, flush=True)
            return rows
    finally:
        model.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=lambda s: [float(x) for x in s.split(",")],
                        default=list(SIZES_MB), help="document sizes in MB (default 1,20,67,210)")
    parser.add_argument("--keystrokes", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--text", choices=("unicode", "astral", "ascii"), default="unicode",
                        help="the code repeated (see repeated_code)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    if args.json:
        print(json.dumps(_jsonable({"machine": machine(), "rows": [asdict(r) for r in rows]})))
        return
    print(" ".join(f"{k}={v}" for k, v in machine().items()))
    print(f"{args.keystrokes} keystrokes per size, each followed by an Invoked inline request; "
          f"milliseconds; a request unanswered in {args.timeout:g} s ends the row")
    print(table(["document", "open", "own p50", "own p95", "other p50", "other p95",
                 "idle RSS MB", "peak RSS MB", "growth/size", "end RSS MB"],
                [figures(r, args.timeout) for r in rows]))


if __name__ == "__main__":
    main()
