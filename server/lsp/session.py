"""One editor connection: its open documents, settings, context engine, and the job runner.

The feature modules (`inline.py`, `context.py`, …) translate LSP messages into snapshots and
jobs; the session holds what they share and turns an open document into a `DocumentSnapshot`.
Decisions a CLI user needs too (the gate, the jobs, the context) live in `server/jobs/`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from deskmate.context.documents import OpenDocument
from deskmate.context.engine import ContextEngine
from deskmate.context.ignore import ruled_folder
from deskmate.server import logs
from deskmate.server.config import Config, load_config
from deskmate.server.jobs import gate
from deskmate.server.jobs.complete import Completions
from deskmate.server.jobs.records import MemorySink
from deskmate.server.jobs.runner import JobRunner
from deskmate.server.jobs.snapshot import DocumentSnapshot
from deskmate.server.lsp import uris
from deskmate.server.lsp.capabilities import ClientFeatures
from deskmate.server.lsp.documents import Document, Documents
from deskmate.server.router import Router

log = logging.getLogger(__name__)

# How long a request that arrives before the editor's settings waits for them.
SETTINGS_WAIT_S = 3.0

Warn = Callable[[str, str], None]  # (what kind of trouble, message) → shown to the user


def _index_missing(engine: ContextEngine) -> None:
    try:
        if added := engine.index_missing():
            log.info("indexed %d files the ignore rules no longer exclude", added)
    except Exception:  # the index only misses those files until the next walk
        log.warning("indexing files after an ignore file changed failed", exc_info=True)


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
        # The background walk that indexes files an ignore rule no longer excludes.
        self._rescan: asyncio.Future[None] | None = None
        self._rescan_again = False
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
        """The path the privacy rules judge for the document at `uri` (`uris.judged_paths`):
        the file for a `file:` URI, the file a view shows for any other scheme. Of a view
        that names two (a `git:` URI's own path and its query's), the first one the gate
        excludes, so that the verdict and every snapshot taken agree on it."""
        paths = uris.judged_paths(uri)
        if len(paths) > 1:
            for path in paths:
                if gate.exclusion(self._snapshot_at(uri, path), self.engine) is not None:
                    return path
        return paths[0]

    def _relative(self, uri: str, path: Path) -> str | None:
        """The workspace path of a `file:` document; None for any other scheme: a view or a
        buffer is never a workspace file (its text never joins another document's prompt,
        nor the index), even when the file it shows is one."""
        return self.engine.relative(path) if uris.is_file(uri) else None

    def workspace_path(self, uri: str) -> str | None:
        """The document's path relative to the workspace, or None when it is outside."""
        return self._relative(uri, self.path_of(uri))

    def verdict(self, uri: str) -> str | None:
        """The gate's verdict on an open document (why it must never reach a model, or
        None), kept while it is open: the rules change only with the config or the files."""
        if uri not in self._verdicts:
            self._verdicts[uri] = gate.exclusion(self._bare_snapshot(uri), self.engine)
        return self._verdicts[uri]

    def _bare_snapshot(self, uri: str) -> DocumentSnapshot:
        return self._snapshot_at(uri, self.path_of(uri))

    def _snapshot_at(self, uri: str, path: Path) -> DocumentSnapshot:
        """What the gate needs to judge the document at `uri` as `path`: no text."""
        return DocumentSnapshot(key=uri, path=path, relative=self._relative(uri, path),
                                version=None, text="", language="", offset=0)

    def opened(self, item: types.TextDocumentItem) -> None:
        doc = self.documents.open(item)
        self._verdicts.pop(item.uri, None)
        if (relative := self.workspace_path(item.uri)) is not None and \
                self.verdict(item.uri) is None:
            # The first completion in a file then finds it parsed and its neighbours read
            # (of a huge one, the part around its middle: what a job there would read).
            part = doc.part(doc.length // 2)
            prepare = functools.partial(self.engine.prepare, first_line=part.first_line)
            asyncio.get_running_loop().run_in_executor(
                None, lambda: _quietly(prepare, relative, part.text))

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
            self._ignore_file_touched(relative)

    def deleted_on_disk(self, uri: str) -> None:
        if (relative := self.workspace_path(uri)) is not None:
            self.engine.file_deleted(relative)
            self._ignore_file_touched(relative)

    def _ignore_file_touched(self, relative: str) -> None:
        """When `relative` is an ignore file (added, changed or deleted mid-session): judge
        every open document again, forget at once every indexed file the rules now exclude,
        and index in the background the files they no longer exclude."""
        if (folder := ruled_folder(relative)) is None:
            return
        self._verdicts.clear()
        self._explained.clear()
        self.completions.forget_suggestions()  # some may come from files now excluded
        if dropped := self.engine.rules_changed(folder):
            log.info("%s changed: %d files are now excluded and left the index", relative,
                     len(dropped))
        if self._rescan is not None and not self._rescan.done():
            self._rescan_again = True  # one walk at a time; the next starts when it ends
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to walk for
            self._rescan = asyncio.get_running_loop().run_in_executor(
                None, _index_missing, self.engine)
            self._rescan.add_done_callback(self._rescan_done)

    def _rescan_done(self, _: asyncio.Future[None]) -> None:
        if self._rescan_again:
            self._rescan_again = False
            self._rescan = asyncio.get_running_loop().run_in_executor(
                None, _index_missing, self.engine)
            self._rescan.add_done_callback(self._rescan_done)

    def closed(self, uri: str) -> None:
        self.documents.close(uri)
        self._verdicts.pop(uri, None)

    def open_documents(self, besides: str) -> dict[str, OpenDocument]:
        """Other open `file:` documents inside the workspace that the gate lets through, by
        relative path, with their versions (work on them is cached per version). Views and
        buffers (`git:`, `untitled:`, notebook cells, ...) are never among them."""
        found: dict[str, OpenDocument] = {}
        for doc in self.documents:
            if doc.uri == besides or not uris.is_file(doc.uri) or \
                    self.verdict(doc.uri) is not None:
                continue
            if (relative := self.workspace_path(doc.uri)) is not None:
                found[relative] = OpenDocument(text=doc.context_text(), version=doc.version)
        return found

    # -- snapshots ------------------------------------------------------------------------------

    def snapshot(self, uri: str, start: types.Position, end: types.Position | None = None
                 ) -> tuple[DocumentSnapshot, Document] | None:
        """The open document at `uri` as it is now, with a cursor at `start` (or a selection
        to `end`); None when it is not open."""
        doc = self.documents.get(uri)
        if doc is None:
            if self.documents.first_miss(uri):
                log.info("requests for %s, which is not open, are answered with nothing", uri)
            return None
        path = self.path_of(uri)
        offset = doc.offset_at(start, self.encoding)
        end_offset = doc.offset_at(end, self.encoding) if end is not None else None
        end_offset = end_offset if end_offset is not None and end_offset > offset else None
        part = doc.part(offset, end_offset)  # all of it, or of a huge one what a job reads
        return DocumentSnapshot(
            key=uri, path=path, relative=self._relative(uri, path), version=doc.version,
            text=part.text, language=doc.language_id, offset=offset - part.base,
            end=end_offset - part.base if end_offset is not None else None,
            base=part.base, first_line=part.first_line,
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
