"""The LSP face of Deskmate: the pygls server, its lifecycle (settings, file watching,
indexing with progress) and the one handler table that maps each LSP method to the feature
module that translates it (`inline.py`, `context.py`). State lives in `session.py`; decisions
a CLI user needs too live in `server/jobs/`."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from deskmate.server import logs
from deskmate.server.lsp import context, inline, protocol, tcp, transport
from deskmate.server.lsp.capabilities import ClientFeatures
from deskmate.server.lsp.session import Session

log = logging.getLogger(__name__)

try:
    __version__ = version("deskmate")
except PackageNotFoundError:  # pragma: no cover  (running from a source tree)
    __version__ = "0"

# The same trouble is shown to the user at most once in this many seconds.
NOTICE_INTERVAL_S = 60.0


class DeskmateServer(LanguageServer):
    def __init__(self, *, config_path: Path | None = None, workspace: Path | None = None) -> None:
        super().__init__("deskmate", __version__, protocol_cls=protocol.DeskmateProtocol,
                         converter_factory=protocol.strict_converter,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.fixed_root = workspace
        self._shown: dict[str, float] = {}
        self.background: set[asyncio.Task[None]] = set()
        self._log_handler: logging.Handler | None = None
        self.session = Session(config_path=config_path, root=workspace, warn=self.warn)

    # pygls' own stream loops are replaced by `transport.serve`: it finds its footing again
    # after a bad frame, bounds what it holds, and answers every request it cannot take (see
    # transport.py); TCP is `serve_tcp`, one session per connection (see tcp.py).

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        self._stop_event = stop = threading.Event()
        source = stdin or sys.stdin.buffer
        read = getattr(source, "read1", source.read)  # what is there, without waiting for n
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))

        async def run() -> None:
            loop = asyncio.get_running_loop()
            reader = transport.FrameReader(
                lambda n: loop.run_in_executor(self.thread_pool, read, n))
            await transport.serve(stop, reader, self.protocol)

        try:
            asyncio.run(run())
        except BrokenPipeError:
            log.error("the connection to the editor is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    def start_tcp(self, host: str, port: int) -> None:
        """pygls' TCP server shares one session between every connection: see `serve_tcp`."""
        raise NotImplementedError("Deskmate serves TCP with serve_tcp(): one session per "
                                  "connection, for clients with the run's token")

    async def close_connection(self) -> None:
        """The end of this server's connection (TCP: each has its own server): stop its
        background work, close its backends, stop sending it log lines."""
        for task in list(self.background):
            task.cancel()
        await self.session.aclose()
        if self._log_handler is not None:
            logging.getLogger("deskmate").removeHandler(self._log_handler)
            self._log_handler = None
        self.shutdown()  # type: ignore[no-untyped-call]

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
        if self.session.client.configuration:
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
        if not self.session.client.watched_files:
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
        token = f"deskmate-index-{uuid.uuid4().hex[:8]}"
        progress = None
        if self.session.client.work_done_progress:
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


    def in_background(self, work: Any) -> None:
        """Run a coroutine without holding up the request that started it; shutdown cancels
        it."""
        task = asyncio.ensure_future(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- lifecycle handlers ----------------------------------------------------------------------

    def on_initialize(self, params: types.InitializeParams) -> None:
        session = self.session
        session.client = ClientFeatures.resolve(
            params, position_encoding=self.workspace.position_encoding)
        if self.fixed_root is None:
            folders = params.workspace_folders or []
            root_uri = folders[0].uri if folders else params.root_uri
            if root_uri and (path := to_fs_path(root_uri)):
                session.set_root(Path(path))
        session.editor_settings = (
            [(params.initialization_options, "initializationOptions")]
            if params.initialization_options else []
        )
        session.reload_config()
        if not session.client.inline_completion:
            # Clients without ghost text get the same suggestion as one completion item.
            self.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(
                resolve_provider=False))(_plain(self.on_completion))

    async def on_initialized(self, params: types.InitializedParams) -> None:
        handler = logs.ClientLogHandler(_client_logger(self))
        if (connection := tcp.CONNECTION.get()) is not None:
            # Over TCP each connection is a session of its own: only its own lines.
            handler.addFilter(lambda _: tcp.CONNECTION.get() == connection)
        self._log_handler = handler
        logging.getLogger("deskmate").addHandler(handler)
        session = self.session
        init_options = session.editor_settings[0][0] if session.editor_settings else None
        await self.pull_settings(init_options)
        session.reindex_needed = False  # the first index is built below anyway
        await self.watch_files()
        self.in_background(self.index_with_progress())

    async def on_configuration_changed(self, params: types.DidChangeConfigurationParams
                                       ) -> None:
        session = self.session
        init_options = next((d for d, source in session.editor_settings
                             if source == "initializationOptions"), None)
        await self.pull_settings(init_options)
        if session.reindex_needed:  # [privacy] exclude changed: the index must forget files
            session.reindex_needed = False
            self.in_background(self.index_with_progress())

    def on_open(self, params: types.DidOpenTextDocumentParams) -> None:
        self.session.opened(params.text_document)

    def on_change(self, params: types.DidChangeTextDocumentParams) -> None:
        self.session.changed(params)

    def on_save(self, params: types.DidSaveTextDocumentParams) -> None:
        self.session.saved_or_changed_on_disk(params.text_document.uri)

    def on_close(self, params: types.DidCloseTextDocumentParams) -> None:
        self.session.closed(params.text_document.uri)

    def on_files_changed(self, params: types.DidChangeWatchedFilesParams) -> None:
        for event in params.changes:
            if event.type == types.FileChangeType.Deleted:
                self.session.deleted_on_disk(event.uri)
            else:
                self.session.saved_or_changed_on_disk(event.uri)

    async def on_shutdown(self, params: Any) -> None:
        for task in self.background:
            task.cancel()
        await self.session.aclose()

    # -- feature handlers: translation in the feature modules ---------------------------------

    async def on_inline_completion(self, params: types.InlineCompletionParams
                                   ) -> types.InlineCompletionList:
        return await inline.inline_completion(self.session, params)

    async def on_completion(self, params: types.CompletionParams) -> types.CompletionList:
        return await inline.completion(self.session, params)

    async def on_context(self, params: Any) -> Any:
        return await context.context(self.session, params)


def build_server(*, config_path: Path | None = None, workspace: Path | None = None
                 ) -> DeskmateServer:
    server = DeskmateServer(config_path=config_path, workspace=workspace)
    # The handler table: every LSP method Deskmate answers, and who answers it.
    # (`textDocument/completion` is added at initialize, for clients without inline completion.)
    handlers: list[tuple[str, Any, Any]] = [
        (types.INITIALIZE, server.on_initialize, None),
        (types.INITIALIZED, server.on_initialized, None),
        (types.SHUTDOWN, server.on_shutdown, None),
        (types.WORKSPACE_DID_CHANGE_CONFIGURATION, server.on_configuration_changed, None),
        (types.TEXT_DOCUMENT_DID_OPEN, server.on_open, None),
        (types.TEXT_DOCUMENT_DID_CHANGE, server.on_change, None),
        (types.TEXT_DOCUMENT_DID_SAVE, server.on_save, None),
        (types.TEXT_DOCUMENT_DID_CLOSE, server.on_close, None),
        (types.WORKSPACE_DID_CHANGE_WATCHED_FILES, server.on_files_changed, None),
        (types.TEXT_DOCUMENT_INLINE_COMPLETION, server.on_inline_completion,
         types.InlineCompletionOptions()),
        (context.METHOD, server.on_context, None),
    ]
    for method, handler, options in handlers:
        server.feature(method, options)(_plain(handler))
    return server


def serve_tcp(address: str, port: int, *, token: str, token_file: Path | None = None,
              config_path: Path | None = None, workspace: Path | None = None) -> None:
    """`deskmate serve --tcp`: a server and session of their own for each connection that
    presents `token` (tcp.py says how)."""
    tcp.run(lambda: build_server(config_path=config_path, workspace=workspace), address, port,
            token=token, token_file=token_file)


def _plain(method: Any) -> Any:
    """A plain function calling a bound method: pygls marks its handlers with attributes,
    which a bound method cannot carry."""
    if inspect.iscoroutinefunction(method):
        async def handle_async(params: Any) -> Any:
            return await method(params)
        return handle_async

    def handle(params: Any) -> Any:
        return method(params)
    return handle


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
