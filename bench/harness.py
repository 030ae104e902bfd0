"""What every benchmark shares: the real server process behind pytest-lsp's client, a
hermetic environment, summary statistics and plain-text tables."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import statistics
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.fakes.model_server import ModelServer

SERVER = [sys.executable, "-m", "deskmate.server", "serve"]


def hermetic_env(home: Path) -> dict[str, str]:
    """This environment minus API keys and user config: HOME and XDG folders under `home`."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k != "DESKMATE_CONFIG"}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_STATE_HOME=str(home / ".state"))
    return env


def profile_options(model: ModelServer, *, debounce_ms: int | None = None) -> dict[str, Any]:
    """initializationOptions routing completion to the fake model server (OpenAI wire
    protocol, StarCoder FIM). `debounce_ms=None` keeps the server's default debounce."""
    options: dict[str, Any] = {
        "profiles": {"fast": {"backend": "openai", "url": f"{model.url}/v1",
                              "model": "test-model", "fim": "starcoder"}},
        "route": {"completion": ["fast"]},
    }
    if debounce_ms is not None:
        options["completion"] = {"debounce_ms": debounce_ms}
    return options


def vscode_capabilities() -> types.ClientCapabilities:
    """VS Code's recorded capabilities plus inline completion (VS Code 1.91+ declares it)."""
    caps = client_capabilities("visual-studio-code")
    text = caps.text_document or types.TextDocumentClientCapabilities()
    text.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=False)
    caps.text_document = text
    return caps


@asynccontextmanager
async def running_server(
    env: Mapping[str, str], root: Path, init_options: Mapping[str, Any],
    *, command: Sequence[str] = SERVER,
) -> AsyncIterator[LanguageClient]:
    """`deskmate serve` as a real process, initialized like VS Code opening `root`."""
    client = await ClientServerConfig(server_command=list(command),
                                      server_env=dict(env)).start()
    assert isinstance(client, LanguageClient)
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=vscode_capabilities(),
            initialization_options=dict(init_options),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        ))
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def open_document(client: LanguageClient, path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                             text=text)))
    return uri


def inline_params(uri: str, position: types.Position, *, invoked: bool
                  ) -> types.InlineCompletionParams:
    kind = (types.InlineCompletionTriggerKind.Invoked if invoked
            else types.InlineCompletionTriggerKind.Automatic)
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=position,
        context=types.InlineCompletionContext(trigger_kind=kind))


def send_request(client: LanguageClient, params: types.InlineCompletionParams,
                 *, msg_id: str | None = None) -> asyncio.Future[Any]:
    """Send an inline-completion request now and return its pending answer.

    pygls' own `send_request`: the message is written before this returns (pytest-lsp's
    `send_request_async` is a coroutine that sends only once scheduled, and adds capability
    checks to the client's side of the round trip)."""
    return asyncio.wrap_future(client.protocol.send_request(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id))


class UnknownResponses(logging.Handler):
    """Counts responses the client could not match to a pending request — a server that
    answered one request twice shows up here."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "unknown message id" in record.getMessage():
            self.count += 1


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Summary:
    p50: float
    p95: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(math.nan, math.nan, math.nan, math.nan)
        return cls(percentile(values, 50), percentile(values, 95), max(values),
                   statistics.fmean(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, interpolating linearly between closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.1f}"
    return str(value)
