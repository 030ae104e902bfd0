"""The LSP face of Deskmate: pygls handlers that translate between LSP and jobs, nothing more.

State lives on `DeskmateServer`; every handler is a few lines: read the document, call a job,
return an lsprotocol type."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from deskmate.server import logs
from deskmate.server.config import Config, load_config
from deskmate.server.documents import Documents, units
from deskmate.server.errors import BackendError
from deskmate.server.jobs import CompletionInput, CompletionJobs
from deskmate.server.router import Router

log = logging.getLogger(__name__)

try:
    __version__ = version("deskmate")
except PackageNotFoundError:  # pragma: no cover  (running from a source tree)
    __version__ = "0"

_WORD_BEFORE = re.compile(r"\w*$")
# How long a request that arrives before the editor's settings waits for them.
SETTINGS_WAIT_S = 3.0
# The same failure is shown to the user at most once in this many seconds.
NOTICE_INTERVAL_S = 60.0


class DeskmateProtocol(LanguageServerProtocol):
    """pygls' protocol minus its own copy of open documents: Deskmate keeps one, in
    `Documents`, with LSP line semantics and one conversion per request."""

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: Any) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: Any) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: Any) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class Notices:
    """User-facing messages, each kind at most once per NOTICE_INTERVAL_S."""

    def __init__(self, server: LanguageServer) -> None:
        self._server = server
        self._last: dict[str, float] = {}

    def show(self, key: str, message: str, kind: types.MessageType) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -NOTICE_INTERVAL_S) < NOTICE_INTERVAL_S:
            return
        self._last[key] = now
        self._server.window_show_message(
            types.ShowMessageParams(type=kind, message=f"Deskmate: {logs.mask(message)}"))


class DeskmateServer(LanguageServer):
    def __init__(self, *, config_path: Path | None = None, workspace: Path | None = None) -> None:
        super().__init__("deskmate", __version__, protocol_cls=DeskmateProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.config_path = config_path
        self.root = workspace
        self.client_name = ""
        self._relative_paths: dict[str, str] = {}
        self.encoding: str = types.PositionEncodingKind.Utf16
        self.documents = Documents()
        self.router = Router()
        self.notices = Notices(self)
        self.editor_settings: list[tuple[Mapping[str, Any], str]] = []
        self.config: Config = Config()
        self.jobs = CompletionJobs(lambda: self.config, self.router)
        # Set once the editor's settings are in: requests that race `initialized` wait for it.
        self.settings_ready = asyncio.Event()

    # -- configuration -------------------------------------------------------------------

    def reload_config(self) -> None:
        self.config = load_config(explicit=self.config_path, workspace=self.root,
                                  overrides=self.editor_settings)
        self.jobs.forget_suggestions()
        for profile in self.config.profiles.values():
            logs.register_secret(profile.api_key())
        if self.config.problems:
            for problem in self.config.problems:
                log.warning("config: %s", problem)
            self.notices.show("config", "settings problem: " + "; ".join(self.config.problems),
                              types.MessageType.Warning)
        chain = ", ".join(f"{p.name} ({p.backend})" for p in self.config.chain("completion"))
        log.info("completion uses: %s", chain or "nothing")

    async def pull_editor_settings(self, init_options: Any) -> None:
        """Layer the editor's settings over the file: initializationOptions, then
        `workspace/configuration` (section `deskmate`) when the client offers it."""
        settings: list[tuple[Mapping[str, Any], str]] = []
        if init_options:
            settings.append((init_options, "initializationOptions"))
        workspace_caps = self.client_capabilities.workspace
        if workspace_caps is not None and workspace_caps.configuration:
            try:
                result = await asyncio.wait_for(self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="deskmate")])
                ), timeout=5)
            except Exception as exc:  # the editor may not answer; the file still applies
                log.warning("workspace/configuration failed: %s", exc)
            else:
                if result and result[0]:
                    settings.append((result[0], "workspace/configuration"))
        self.editor_settings = settings
        self.reload_config()
        self.settings_ready.set()

    # -- completion ------------------------------------------------------------------------

    def relative_path(self, uri: str) -> str:
        """The document's path as the model sees it: relative to the workspace."""
        if (known := self._relative_paths.get(uri)) is not None:
            return known
        path = Path(to_fs_path(uri) or uri)
        relative = path.name
        if self.root is not None:
            with contextlib.suppress(ValueError, OSError):
                relative = str(path.resolve().relative_to(self.root.resolve()))
        self._relative_paths[uri] = relative
        return relative

    async def complete_at(
        self, uri: str, position: types.Position, *, automatic: bool
    ) -> Suggestion | None:
        """The suggestion at `position`, or None."""
        if not self.settings_ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settings_ready.wait(), SETTINGS_WAIT_S)
        doc = self.documents.get(uri)
        if doc is None:
            log.info("completion asked for %s, which is not open; ignored", uri)
            return None
        self.jobs.supersede(uri)
        version, text = doc.version, doc.text
        offset = doc.offset_at(position, self.encoding)
        job = CompletionInput(key=uri, text=text, offset=offset, path=self.relative_path(uri),
                              language=doc.language_id, automatic=automatic)
        try:
            outcome = await self.jobs.complete(job)
        except BackendError as exc:
            log.warning("completion failed: %s", exc)
            self.notices.show(f"backend:{exc.profile}:{type(exc).__name__}", str(exc),
                              types.MessageType.Warning)
            return None
        if self.documents.get(uri) is not doc or doc.version != version:
            log.debug("dropped a completion for version %s of %s: the document moved on",
                      version, uri)
            return None
        if not outcome.text:
            return None
        if outcome.generation is not None:
            g = outcome.generation
            log.debug("completion from %s in %.0f ms (%d→%d tokens)", g.profile,
                      outcome.latency_ms, g.prompt_tokens, g.output_tokens)
        # Positions are canonical: a column past the line's end means its end.
        at = doc.position_at(offset, self.encoding)
        word = _WORD_BEFORE.search(text, doc.line_starts[at.line], offset)
        return Suggestion(text=outcome.text, at=at, word_before=word.group(0) if word else "")


@dataclass(frozen=True)
class Suggestion:
    text: str  # what goes in at the cursor
    at: types.Position  # the cursor
    word_before: str  # identifier characters just before the cursor


def build_server(*, config_path: Path | None = None, workspace: Path | None = None
                 ) -> DeskmateServer:
    server = DeskmateServer(config_path=config_path, workspace=workspace)

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        server.client_name = params.client_info.name if params.client_info else ""
        server.encoding = server.workspace.position_encoding or types.PositionEncodingKind.Utf16
        if server.root is None:
            folders = params.workspace_folders or []
            root_uri = folders[0].uri if folders else params.root_uri
            if root_uri and (path := to_fs_path(root_uri)):
                server.root = Path(path)
        server.editor_settings = (
            [(params.initialization_options, "initializationOptions")]
            if params.initialization_options else []
        )
        server.reload_config()
        text_caps = params.capabilities.text_document
        if text_caps is None or text_caps.inline_completion is None:
            # Clients without ghost text get the same suggestion as one completion item.
            server.feature(types.TEXT_DOCUMENT_COMPLETION,
                           types.CompletionOptions(resolve_provider=False))(on_completion)

    @server.feature(types.INITIALIZED)
    async def on_initialized(params: types.InitializedParams) -> None:
        logging.getLogger("deskmate").addHandler(logs.ClientLogHandler(_client_logger(server)))
        init_options = server.editor_settings[0][0] if server.editor_settings else None
        await server.pull_editor_settings(init_options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration_changed(params: types.DidChangeConfigurationParams) -> None:
        init_options = next((d for d, source in server.editor_settings
                             if source == "initializationOptions"), None)
        await server.pull_editor_settings(init_options)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(params: types.DidOpenTextDocumentParams) -> None:
        server.documents.open(params.text_document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(params: types.DidChangeTextDocumentParams) -> None:
        server.documents.change(params, server.encoding)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(params: types.DidCloseTextDocumentParams) -> None:
        server.documents.close(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def on_inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList | None:
        automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
        found = await server.complete_at(params.text_document.uri, params.position,
                                         automatic=automatic)
        if found is None:
            return types.InlineCompletionList(items=[])
        if server.client_name == "Neovim":
            # Neovim 0.12 overlays ghost text of a ranged item on the text after it (hiding
            # the rest of the line); without a range it draws the text inline at the cursor
            # and leaves the cursor right after it once accepted.
            return types.InlineCompletionList(items=[
                types.InlineCompletionItem(insert_text=found.text)])
        return types.InlineCompletionList(items=[types.InlineCompletionItem(
            insert_text=found.text, range=types.Range(start=found.at, end=found.at))])

    async def on_completion(params: types.CompletionParams) -> types.CompletionList | None:
        found = await server.complete_at(params.text_document.uri, params.position,
                                         automatic=True)
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        text, at, typed = found.text, found.at, found.word_before
        # Completion lists filter by the word before the cursor, so the item starts there.
        start = types.Position(line=at.line, character=at.character - units(typed, server.encoding))
        label = (typed + text).split("\n", 1)[0].strip()
        return types.CompletionList(is_incomplete=True, items=[types.CompletionItem(
            label=label[:80] or text.strip()[:80],
            kind=types.CompletionItemKind.Text,
            detail="Deskmate",
            filter_text=typed + text,
            sort_text="0",
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=start, end=at),
                                     new_text=typed + text),
        )])

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(params: Any) -> None:
        await server.router.aclose()

    return server


def _client_logger(server: DeskmateServer) -> Any:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    kinds = {logging.ERROR: types.MessageType.Error, logging.WARNING: types.MessageType.Warning,
             logging.INFO: types.MessageType.Info}

    def send(level: int, message: str) -> None:
        params = types.LogMessageParams(
            type=kinds.get(level, types.MessageType.Log if level < logging.INFO
                           else types.MessageType.Error), message=message)
        if threading.get_ident() == loop_thread:
            server.window_log_message(params)
        else:
            loop.call_soon_threadsafe(server.window_log_message, params)

    return send
