"""One editor connection: its open documents, settings, context engine, and the job runner.

The feature modules (`inline.py`, `context.py`, …) translate LSP messages into snapshots and
jobs; the session holds what they share and turns an open document into a `DocumentSnapshot`.
Decisions a CLI user needs too (the gate, the jobs, the context) live in `server/jobs/`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from deskmate.context.documents import OpenDocument
from deskmate.context.engine import ContextEngine
from deskmate.server import logs
from deskmate.server.config import Config, load_config
from deskmate.server.jobs import gate
from deskmate.server.jobs.complete import Completions
from deskmate.server.jobs.records import MemorySink
from deskmate.server.jobs.runner import JobRunner
from deskmate.server.jobs.snapshot import DocumentSnapshot
from deskmate.server.lsp.capabilities import ClientFeatures
from deskmate.server.lsp.documents import Document, Documents
from deskmate.server.router import Router

log = logging.getLogger(__name__)

# How long a request that arrives before the editor's settings waits for them.
SETTINGS_WAIT_S = 3.0

Warn = Callable[[str, str], None]  # (what kind of trouble, message) → shown to the user


def _quietly(work: Callable[[str, str], None], path: str, text: str) -> None:
    try:
        work(path, text)
    except Exception:  # preparation is an optimisation; the request will do the work
        log.debug("preparing %s failed", path, exc_info=True)


class Session:
    def __init__(self, *, config_path: Path | None, root: Path | None, warn: Warn) -> None:
        self.config_path = config_path
        self.warn = warn
        self.client = ClientFeatures()
        self.documents = Documents()
        self.router = Router()
        self.editor_settings: list[tuple[Any, str]] = []
        self.config: Config = Config()
        self.root: Path | None = None
        self.engine = ContextEngine(None)
        self.records = MemorySink()
        self.runner = JobRunner(config=lambda: self.config, router=self.router,
                                engine=lambda: self.engine, sink=self.records)
        self.completions = Completions()
        self._explained: set[str] = set()  # excluded documents already explained in the log
        self._verdicts: dict[str, str | None] = {}  # the gate's verdict per open document
        # Set once the editor's settings are in: requests that race `initialized` wait for it.
        self.settings_ready = asyncio.Event()
        self.reindex_needed = False
        self.index_ms = 0.0  # how long the last build (or load) of the index took
        self._retiring: set[asyncio.Task[None]] = set()
        self.set_root(root)

    @property
    def encoding(self) -> str:
        return self.client.position_encoding

    # -- workspace and settings ---------------------------------------------------------------

    def set_root(self, root: Path | None) -> None:
        self.root = root
        self._new_engine()

    def _new_engine(self) -> None:
        # One core stays with the editor's requests while a worker process parses.
        self.engine = ContextEngine(self.root, exclude=self.config.privacy.exclude,
                                    workers=max(1, (os.cpu_count() or 2) - 1))
        self._explained.clear()
        self._verdicts.clear()

    def reload_config(self) -> None:
        excluded_before = self.config.privacy.exclude
        self.config = load_config(explicit=self.config_path, workspace=self.root,
                                  overrides=self.editor_settings)
        if self.config.privacy.exclude != excluded_before:
            self._new_engine()  # the index must forget what is now excluded
            self.reindex_needed = True
        self.completions.forget_suggestions()
        self._retire_unused_backends()
        for profile in self.config.profiles.values():
            logs.register_secret(profile.api_key())
        if self.config.problems:
            for problem in self.config.problems:
                log.warning("config: %s", problem)
            self.warn("config", "settings problem: " + "; ".join(self.config.problems))
        chain = ", ".join(f"{p.name} ({p.backend})" for p in self.config.chain("completion"))
        log.info("completion uses: %s", chain or "nothing")

    def _retire_unused_backends(self) -> None:
        """Close the backends of profiles this config no longer has (their connections, a
        loaded local model), in the background."""
        with contextlib.suppress(RuntimeError):  # no running loop: nothing was opened yet
            keep = {*self.config.profiles.values(), *self.config.chain("completion")}
            task = asyncio.get_running_loop().create_task(self.router.retire(keep))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    def settings_arrived(self, settings: list[tuple[Any, str]]) -> None:
        self.editor_settings = settings
        self.reload_config()
        self.settings_ready.set()

    async def wait_for_settings(self) -> None:
        if not self.settings_ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settings_ready.wait(), SETTINGS_WAIT_S)

    async def index_workspace(self, report: Callable[[int, int], None]) -> None:
        """Build the workspace index in a worker thread; completions meanwhile use the part
        built so far."""
        engine = self.engine
        if engine.index is None:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        stats = await loop.run_in_executor(None, lambda: engine.build_index(progress=report))
        self.index_ms = (time.perf_counter() - started) * 1000
        if stats is not None:
            log.info("indexed %d files in %.0f ms (%d parsed, %d from the cache)", stats.files,
                     self.index_ms, stats.parsed, stats.cached)

    # -- documents ------------------------------------------------------------------------------

    def path_of(self, uri: str) -> Path:
        return Path(to_fs_path(uri) or uri)

    def workspace_path(self, uri: str) -> str | None:
        """The document's path relative to the workspace, or None when it is outside."""
        return self.engine.relative(self.path_of(uri))

    def verdict(self, uri: str) -> str | None:
        """The gate's verdict on an open document (why it must never reach a model, or
        None), kept while it is open: the rules change only with the config or the files."""
        if uri not in self._verdicts:
            self._verdicts[uri] = gate.exclusion(self._bare_snapshot(uri), self.engine)
        return self._verdicts[uri]

    def _bare_snapshot(self, uri: str) -> DocumentSnapshot:
        path = self.path_of(uri)
        return DocumentSnapshot(key=uri, path=path, relative=self.engine.relative(path),
                                version=None, text="", language="", offset=0)

    def opened(self, item: types.TextDocumentItem) -> None:
        self.documents.open(item)
        self._verdicts.pop(item.uri, None)
        if (relative := self.workspace_path(item.uri)) is not None and \
                self.verdict(item.uri) is None:
            # The first completion in a file then finds it parsed and its neighbours read.
            engine, text = self.engine, item.text
            asyncio.get_running_loop().run_in_executor(
                None, lambda: _quietly(engine.prepare, relative, text))

    def changed(self, params: types.DidChangeTextDocumentParams) -> None:
        if self.documents.change(params, self.encoding) is None:
            return
        uri = params.text_document.uri
        relative = self.workspace_path(uri)
        if relative is None or self.verdict(uri) is not None:
            return
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                self.engine.note_edit(relative, change.range.start.line + 1)

    def saved_or_changed_on_disk(self, uri: str) -> None:
        if (relative := self.workspace_path(uri)) is not None:
            self.engine.file_changed(relative)
            if relative.rsplit("/", 1)[-1] in (".gitignore", ".deskmateignore"):
                self._verdicts.clear()  # ignore rules changed: judge every document again

    def deleted_on_disk(self, uri: str) -> None:
        if (relative := self.workspace_path(uri)) is not None:
            self.engine.file_deleted(relative)

    def closed(self, uri: str) -> None:
        self.documents.close(uri)
        self._verdicts.pop(uri, None)

    def open_documents(self, besides: str) -> dict[str, OpenDocument]:
        """Other open documents inside the workspace that the gate lets through, by relative
        path, with their versions (work on them is cached per version)."""
        found: dict[str, OpenDocument] = {}
        for doc in self.documents:
            if doc.uri == besides or self.verdict(doc.uri) is not None:
                continue
            if (relative := self.workspace_path(doc.uri)) is not None:
                found[relative] = OpenDocument(text=doc.text, version=doc.version)
        return found

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self, uri: str, start: types.Position, end: types.Position | None = None
                 ) -> tuple[DocumentSnapshot, Document] | None:
        """The open document at `uri` as it is now, with a cursor at `start` (or a selection
        to `end`); None when it is not open."""
        doc = self.documents.get(uri)
        if doc is None:
            log.info("a request for %s, which is not open; ignored", uri)
            return None
        path = self.path_of(uri)
        offset = doc.offset_at(start, self.encoding)
        end_offset = doc.offset_at(end, self.encoding) if end is not None else None
        return DocumentSnapshot(
            key=uri, path=path, relative=self.engine.relative(path), version=doc.version,
            text=doc.text, language=doc.language_id, offset=offset,
            end=end_offset if end_offset is not None and end_offset > offset else None,
        ), doc

    def is_current(self, uri: str, doc: Document, version: int | None) -> Callable[[], bool]:
        """Whether the document is still open at `version` (a result for an older version
        is never applied)."""
        return lambda: self.documents.get(uri) is doc and doc.version == version

    def explain_exclusion(self, uri: str, message: str) -> None:
        """Say once per document, in the log, why nothing from it is sent."""
        if uri not in self._explained:
            self._explained.add(uri)
            log.warning("%s", message)

    async def aclose(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await self.router.aclose()
