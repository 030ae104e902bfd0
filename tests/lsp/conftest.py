"""pytest-lsp end to end: `deskmate serve` as a real process, replaying real editors'
capabilities, talking HTTP to the real test model server."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.fakes.model_server import ModelServer

SERVER = [sys.executable, "-m", "deskmate.server", "serve"]
# Replayed capabilities of real editors (pytest-lsp's recordings): VS Code negotiates UTF-16,
# Neovim 0.11 offers UTF-8 first.
EDITORS = {"vscode": "visual-studio-code", "neovim": "neovim@v0.11.0"}
CLIENT_NAMES = {"vscode": "Visual Studio Code", "neovim": "Neovim"}


def capabilities(editor: str, *, inline: bool = True) -> types.ClientCapabilities:
    caps = client_capabilities(EDITORS[editor])
    if inline:
        # Neither recording predates inline completion support; add it as VS Code 1.91+ and
        # Neovim 0.12 declare it.
        text = caps.text_document or types.TextDocumentClientCapabilities()
        text.inline_completion = types.InlineCompletionClientCapabilities(
            dynamic_registration=False)
        caps.text_document = text
    return caps


def fast_profile(server: ModelServer, **overrides: Any) -> dict[str, Any]:
    """initializationOptions routing completion to the test server (OpenAI, StarCoder FIM)."""
    profile = {"backend": "openai", "url": f"{server.url}/v1", "model": "test-model",
               "fim": "starcoder", **overrides}
    return {"profiles": {"fast": profile}, "route": {"completion": ["fast"]},
            "completion": {"debounce_ms": 0}}


_INIT_RESULTS: dict[int, types.InitializeResult] = {}


def server_capabilities(client: LanguageClient) -> types.ServerCapabilities:
    """What the server answered to `initialize` in `running_client`."""
    return _INIT_RESULTS[id(client)].capabilities


@asynccontextmanager
async def running_client(
    env: dict[str, str], *, editor: str = "vscode", inline: bool = True,
    init_options: dict[str, Any] | None = None, root: Path | None = None,
    configuration: dict[str, Any] | None = None, shutdown_s: float | None = None,
) -> AsyncIterator[LanguageClient]:
    """`deskmate serve` as a real process, initialized as `editor` would. With `shutdown_s`,
    start-up and shutdown are bounded: a server that does not shut down within `shutdown_s`
    is killed, and that fails the test (unless it failed already), so a hung server can
    never hang the suite."""
    client = await ClientServerConfig(server_command=SERVER, server_env=env).start()
    assert isinstance(client, LanguageClient)
    if configuration is not None:
        client.set_configuration(configuration, section="deskmate")
    failed = True
    try:
        result = await asyncio.wait_for(client.initialize_session(types.InitializeParams(
            capabilities=capabilities(editor, inline=inline),
            client_info=types.ClientInfo(name=CLIENT_NAMES[editor]),
            initialization_options=init_options,
            root_uri=root.as_uri() if root else None,
            workspace_folders=([types.WorkspaceFolder(uri=root.as_uri(), name="ws")]
                               if root else None),
        )), None if shutdown_s is None else 15)
        _INIT_RESULTS[id(client)] = result
        yield client
        failed = False
    finally:
        _INIT_RESULTS.pop(id(client), None)
        hung = False
        try:
            await asyncio.wait_for(client.shutdown_session(), shutdown_s)
        except (TimeoutError, RuntimeError):
            if shutdown_s is None:
                raise
            hung = True
        process = client._server
        if shutdown_s is not None and process is not None and process.returncode is None:
            process.kill()
        await client.stop()
        if hung and not failed:
            raise AssertionError(f"the server did not shut down within {shutdown_s} s")


@pytest.fixture(params=["vscode", "neovim"])
def editor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def open_doc(client: LanguageClient, path: Path, text: str, language: str = "python") -> str:
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
    return uri


def inline_params(uri: str, line: int, character: int, *, invoked: bool = True
                  ) -> types.InlineCompletionParams:
    kind = (types.InlineCompletionTriggerKind.Invoked if invoked
            else types.InlineCompletionTriggerKind.Automatic)
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind))


def encoding_of(client: LanguageClient) -> str:
    return "utf-8" if client_encoding(client) == "utf-8" else "utf-16"


def client_encoding(client: LanguageClient) -> str:
    caps = client.capabilities
    offered = (caps.general.position_encodings if caps and caps.general else None) or ["utf-16"]
    return str(offered[0])


def send_request(client: LanguageClient, method: str, params: Any, *, msg_id: str
                 ) -> asyncio.Task[Any]:
    """Send a request with a known id (so a test can cancel it) and return its pending answer."""
    return asyncio.ensure_future(client.protocol.send_request_async(method, params, msg_id=msg_id))


def plain(value: Any) -> Any:
    """pygls hands a custom request's result back as named tuples; turn them into data."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


async def wait_for_index(client: LanguageClient, within_s: float = 30.0) -> None:
    """Until the server's indexing progress has ended."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        for reports in client.progress_reports.values():
            if any(isinstance(r, types.WorkDoneProgressEnd) for r in reports):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no end of indexing progress: {client.progress_reports}")
