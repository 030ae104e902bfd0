"""The LSP face of Deskmate: pygls handlers that translate between LSP and the session's jobs,
nothing more. State and decisions live in `session.py`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from deskmate.server import logs, transport
from deskmate.server.documents import units
from deskmate.server.session import Session

log = logging.getLogger(__name__)

try:
    __version__ = version("deskmate")
except PackageNotFoundError:  # pragma: no cover  (running from a source tree)
    __version__ = "0"

# The same trouble is shown to the user at most once in this many seconds.
NOTICE_INTERVAL_S = 60.0
CONTEXT_METHOD = "deskmate/context"


class DeskmateProtocol(LanguageServerProtocol):
    """pygls' protocol minus its own copy of open documents: Deskmate keeps one, in
    `Documents`, with LSP line semantics and one conversion per request.

    These handlers call Deskmate's directly instead of yielding to them: pygls keeps the
    future of a generator-run notification forever (it files it under a fresh id that no
    response ever clears), which leaked one future per keystroke (~2.6 MB/min in a soak)."""

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: Any) -> None:
        self._forward(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: Any) -> None:
        self._forward(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: Any) -> None:
        self._forward(types.TEXT_DOCUMENT_DID_CLOSE, params)

    def _forward(self, method: str, params: Any) -> None:
        if (handler := self.fm.features.get(method)) is not None:
            handler(params)


class DeskmateServer(LanguageServer):
    def __init__(self, *, config_path: Path | None = None, workspace: Path | None = None) -> None:
        super().__init__("deskmate", __version__, protocol_cls=DeskmateProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.fixed_root = workspace
        self.client_name = ""
        self._shown: dict[str, float] = {}
        self.session = Session(config_path=config_path, root=workspace, warn=self.warn)

    # pygls' own stream loops are replaced by `transport.serve`: it finds its footing again
    # after a bad frame and answers every request it cannot take (see transport.py).

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        self._stop_event = threading.Event()
        reader = StdinAsyncReader(stdin or sys.stdin.buffer, self.thread_pool)
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(transport.serve(self._stop_event, reader, self.protocol))
        except BrokenPipeError:
            log.error("the connection to the editor is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    def start_tcp(self, host: str, port: int) -> None:
        self._stop_event = stop = threading.Event()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)
            await transport.serve(stop, reader, self.protocol)
            self.shutdown()  # type: ignore[no-untyped-call]

        async def listen() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            log.info("serving LSP on %s:%d", host, port)
            async with self._server:
                await self._server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(listen())

    def warn(self, key: str, message: str) -> None:
        """Show a warning, each kind of trouble at most once per NOTICE_INTERVAL_S."""
        now = time.monotonic()
        if now - self._shown.get(key, -NOTICE_INTERVAL_S) < NOTICE_INTERVAL_S:
            return
        self._shown[key] = now
        self.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning, message=f"Deskmate: {logs.mask(message)}"))

    async def pull_settings(self, init_options: Any) -> None:
        """The editor's settings: initializationOptions, then `workspace/configuration`
        (section `deskmate`) when the client offers it."""
        settings: list[tuple[Any, str]] = []
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
        self.session.settings_arrived(settings)

    async def watch_files(self) -> None:
        """Ask the editor to report files created, changed or deleted outside it, so the
        index follows `git checkout` and code generators."""
        workspace = self.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        if watched is None or not watched.dynamic_registration:
            return
        try:
            await asyncio.wait_for(self.client_register_capability_async(
                types.RegistrationParams(registrations=[types.Registration(
                    id="deskmate-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=types.DidChangeWatchedFilesRegistrationOptions(
                        watchers=[types.FileSystemWatcher(glob_pattern="**/*")]))])), 5)
        except Exception as exc:
            log.info("the editor will not report file changes: %s", exc)

    async def index_with_progress(self) -> None:
        """Index the workspace, shown as `$/progress` when the editor supports it."""
        window = self.client_capabilities.window
        token = f"deskmate-index-{uuid.uuid4().hex[:8]}"
        progress = None
        if window is not None and window.work_done_progress:
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), 5)
                progress = self.work_done_progress
            except Exception as exc:
                log.info("no progress reporting: %s", exc)
        loop = asyncio.get_running_loop()
        if progress is not None:
            progress.begin(token, types.WorkDoneProgressBegin(
                title="Deskmate: indexing the workspace", percentage=0, cancellable=False))

        def report(done: int, total: int) -> None:
            if progress is not None:
                loop.call_soon_threadsafe(progress.report, token, types.WorkDoneProgressReport(
                    message=f"{done}/{total} files", percentage=done * 100 // max(total, 1)))

        try:
            await self.session.index_workspace(report)
        except Exception:
            log.exception("indexing the workspace failed; completions use the open files only")
        finally:
            if progress is not None:
                progress.end(token, types.WorkDoneProgressEnd(message="indexed"))


def build_server(*, config_path: Path | None = None, workspace: Path | None = None
                 ) -> DeskmateServer:
    server = DeskmateServer(config_path=config_path, workspace=workspace)
    session = server.session
    background: set[asyncio.Task[None]] = set()

    @server.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        server.client_name = params.client_info.name if params.client_info else ""
        session.encoding = server.workspace.position_encoding or types.PositionEncodingKind.Utf16
        if server.fixed_root is None:
            folders = params.workspace_folders or []
            root_uri = folders[0].uri if folders else params.root_uri
            if root_uri and (path := to_fs_path(root_uri)):
                session.set_root(Path(path))
        session.editor_settings = (
            [(params.initialization_options, "initializationOptions")]
            if params.initialization_options else []
        )
        session.reload_config()
        text_caps = params.capabilities.text_document
        if text_caps is None or text_caps.inline_completion is None:
            # Clients without ghost text get the same suggestion as one completion item.
            server.feature(types.TEXT_DOCUMENT_COMPLETION,
                           types.CompletionOptions(resolve_provider=False))(on_completion)

    @server.feature(types.INITIALIZED)
    async def on_initialized(params: types.InitializedParams) -> None:
        logging.getLogger("deskmate").addHandler(logs.ClientLogHandler(_client_logger(server)))
        init_options = session.editor_settings[0][0] if session.editor_settings else None
        await server.pull_settings(init_options)
        session.reindex_needed = False  # the first index is built below anyway
        await server.watch_files()
        task = asyncio.ensure_future(server.index_with_progress())
        background.add(task)
        task.add_done_callback(background.discard)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration_changed(params: types.DidChangeConfigurationParams) -> None:
        init_options = next((d for d, source in session.editor_settings
                             if source == "initializationOptions"), None)
        await server.pull_settings(init_options)
        if session.reindex_needed:  # [privacy] exclude changed: the index must forget files
            session.reindex_needed = False
            task = asyncio.ensure_future(server.index_with_progress())
            background.add(task)
            task.add_done_callback(background.discard)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(params: types.DidOpenTextDocumentParams) -> None:
        session.opened(params.text_document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(params: types.DidChangeTextDocumentParams) -> None:
        session.changed(params)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def on_save(params: types.DidSaveTextDocumentParams) -> None:
        session.saved_or_changed_on_disk(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(params: types.DidCloseTextDocumentParams) -> None:
        session.closed(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def on_files_changed(params: types.DidChangeWatchedFilesParams) -> None:
        for event in params.changes:
            if event.type == types.FileChangeType.Deleted:
                session.deleted_on_disk(event.uri)
            else:
                session.saved_or_changed_on_disk(event.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def on_inline_completion(
        params: types.InlineCompletionParams,
    ) -> types.InlineCompletionList | None:
        automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
        found = await session.complete_at(params.text_document.uri, params.position,
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
        found = await session.complete_at(params.text_document.uri, params.position,
                                          automatic=True)
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        text, at, typed = found.text, found.at, found.word_before
        # Completion lists filter by the word before the cursor, so the item starts there.
        start = types.Position(line=at.line,
                               character=at.character - units(typed, session.encoding))
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

    @server.feature(CONTEXT_METHOD)
    async def on_context(params: Any) -> Any:
        uri, position, budget = _context_params(params)
        return await session.context_at(uri, position, budget)

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(params: Any) -> None:
        for task in background:
            task.cancel()
        await session.aclose()

    return server


def _context_params(params: Any) -> tuple[str, types.Position, int | None]:
    """{textDocument: {uri}, position: {line, character}, budget?} of a custom request (pygls
    hands custom params over as attribute objects)."""
    position = types.Position(line=int(params.position.line),
                              character=int(params.position.character))
    budget = getattr(params, "budget", None)
    return str(params.textDocument.uri), position, int(budget) if budget else None


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
