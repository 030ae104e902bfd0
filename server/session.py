"""One editor connection: its open documents, settings, context engine and jobs.

The LSP handlers (`lsp.py`) translate messages into calls on a `Session` and its answers back
into LSP types; everything with state or decisions lives here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from deskmate.context.engine import ContextEngine
from deskmate.context.workspace import Workspace
from deskmate.server import logs
from deskmate.server.config import Config, load_config
from deskmate.server.documents import Documents
from deskmate.server.errors import BackendError
from deskmate.server.jobs import CompletionInput, CompletionJobs, context_report, prompt_budget
from deskmate.server.router import Router

log = logging.getLogger(__name__)

_WORD_BEFORE = re.compile(r"\w*$")
# How long a request that arrives before the editor's settings waits for them.
SETTINGS_WAIT_S = 3.0

Warn = Callable[[str, str], None]  # (what kind of trouble, message) → shown to the user


def _quietly(work: Callable[[str, str], None], path: str, text: str) -> None:
    try:
        work(path, text)
    except Exception:  # preparation is an optimisation; the request will do the work
        log.debug("preparing %s failed", path, exc_info=True)


@dataclass(frozen=True)
class Suggestion:
    text: str  # what goes in at the cursor
    at: types.Position  # the cursor
    word_before: str  # identifier characters just before the cursor


class Session:
    def __init__(self, *, config_path: Path | None, root: Path | None, warn: Warn) -> None:
        self.config_path = config_path
        self.warn = warn
        self.encoding: str = types.PositionEncodingKind.Utf16
        self.documents = Documents()
        self.router = Router()
        self.editor_settings: list[tuple[Any, str]] = []
        self.config: Config = Config()
        self.root: Path | None = None
        self.engine = ContextEngine(None)
        self._explained: set[str] = set()  # excluded documents already explained in the log
        self._outside: dict[str, str | None] = {}  # exclusion of documents outside the root
        self.jobs = CompletionJobs(lambda: self.config, self.router, lambda: self.engine)
        # Set once the editor's settings are in: requests that race `initialized` wait for it.
        self.settings_ready = asyncio.Event()
        self._relative: dict[str, str] = {}
        self.reindex_needed = False
        self.set_root(root)

    # -- workspace and settings ---------------------------------------------------------------

    def set_root(self, root: Path | None) -> None:
        self.root = root
        self._new_engine()
        self._relative.clear()

    def _new_engine(self) -> None:
        # One core stays with the editor's requests while a worker process parses.
        self.engine = ContextEngine(self.root, exclude=self.config.privacy.exclude,
                                    workers=max(1, (os.cpu_count() or 2) - 1))
        self._explained.clear()

    def reload_config(self) -> None:
        excluded_before = self.config.privacy.exclude
        self.config = load_config(explicit=self.config_path, workspace=self.root,
                                  overrides=self.editor_settings)
        if self.config.privacy.exclude != excluded_before:
            self._new_engine()  # the index must forget what is now excluded
            self.reindex_needed = True
        self.jobs.forget_suggestions()
        for profile in self.config.profiles.values():
            logs.register_secret(profile.api_key())
        if self.config.problems:
            for problem in self.config.problems:
                log.warning("config: %s", problem)
            self.warn("config", "settings problem: " + "; ".join(self.config.problems))
        chain = ", ".join(f"{p.name} ({p.backend})" for p in self.config.chain("completion"))
        log.info("completion uses: %s", chain or "nothing")

    def settings_arrived(self, settings: list[tuple[Any, str]]) -> None:
        self.editor_settings = settings
        self.reload_config()
        self.settings_ready.set()

    async def index_workspace(self, report: Callable[[int, int], None]) -> None:
        """Build the workspace index in a worker thread; completions meanwhile use the part
        built so far."""
        engine = self.engine
        if engine.index is None:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        stats = await loop.run_in_executor(None, lambda: engine.build_index(progress=report))
        if stats is not None:
            log.info("indexed %d files in %.0f ms (%d parsed, %d from the cache)", stats.files,
                     (time.perf_counter() - started) * 1000, stats.parsed, stats.cached)

    # -- documents ------------------------------------------------------------------------------

    def relative_path(self, uri: str) -> str:
        """The document's path as the model sees it: relative to the workspace."""
        if (known := self._relative.get(uri)) is not None:
            return known
        path = Path(to_fs_path(uri) or uri)
        relative = self.engine.relative(path) or path.name
        self._relative[uri] = relative
        return relative

    def workspace_path(self, uri: str) -> str | None:
        """The document's path relative to the workspace, or None when it is outside."""
        return self.engine.relative(Path(to_fs_path(uri) or uri))

    def exclusion(self, uri: str) -> str | None:
        """Why a document must never reach a model (secrets, ignored, excluded), or None."""
        path = Path(to_fs_path(uri) or uri)
        relative = self.engine.relative(path)
        if relative is not None:
            return self.engine.exclusion_reason(relative)
        # Outside the workspace: the same built-in rules (secret files, binaries) by name.
        if uri not in self._outside:
            self._outside[uri] = Workspace(path.parent).exclusion_reason(path.name)
        return self._outside[uri]

    def opened(self, item: types.TextDocumentItem) -> None:
        self.documents.open(item)
        if (relative := self.workspace_path(item.uri)) is not None and \
                self.exclusion(item.uri) is None:
            # The first completion in a file then finds it parsed and its neighbours read.
            engine, text = self.engine, item.text
            asyncio.get_running_loop().run_in_executor(
                None, lambda: _quietly(engine.prepare, relative, text))

    def changed(self, params: types.DidChangeTextDocumentParams) -> None:
        if self.documents.change(params, self.encoding) is None:
            return
        relative = self.workspace_path(params.text_document.uri)
        if relative is None or self.exclusion(params.text_document.uri) is not None:
            return
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                self.engine.note_edit(relative, change.range.start.line + 1)

    def saved_or_changed_on_disk(self, uri: str) -> None:
        if (relative := self.workspace_path(uri)) is not None:
            self.engine.file_changed(relative)

    def deleted_on_disk(self, uri: str) -> None:
        if (relative := self.workspace_path(uri)) is not None:
            self.engine.file_deleted(relative)

    def closed(self, uri: str) -> None:
        self.documents.close(uri)

    def _open_documents(self, besides: str) -> dict[str, str]:
        """Other open documents inside the workspace, by relative path."""
        found: dict[str, str] = {}
        for doc in self.documents:
            if doc.uri == besides or self.exclusion(doc.uri) is not None:
                continue
            if (relative := self.workspace_path(doc.uri)) is not None:
                found[relative] = doc.text
        return found

    # -- jobs --------------------------------------------------------------------------------------

    async def wait_for_settings(self) -> None:
        if not self.settings_ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.settings_ready.wait(), SETTINGS_WAIT_S)

    async def complete_at(self, uri: str, position: types.Position, *, automatic: bool
                          ) -> Suggestion | None:
        """The suggestion at `position`, or None."""
        await self.wait_for_settings()
        doc = self.documents.get(uri)
        if doc is None:
            log.info("completion asked for %s, which is not open; ignored", uri)
            return None
        if (reason := self.exclusion(uri)) is not None:
            if uri not in self._explained:
                self._explained.add(uri)
                log.warning("no completions in %s: %s; nothing from it is sent to a model",
                            self.relative_path(uri), reason)
            return None
        self.jobs.supersede(uri)
        version, text = doc.version, doc.text
        offset = doc.offset_at(position, self.encoding)
        job = CompletionInput(key=uri, text=text, offset=offset, path=self.relative_path(uri),
                              language=doc.language_id, automatic=automatic,
                              open_documents=self._open_documents(uri))
        try:
            outcome = await self.jobs.complete(job)
        except BackendError as exc:
            log.warning("completion failed: %s", exc)
            self.warn(f"backend:{exc.profile}:{type(exc).__name__}", str(exc))
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
        word = _WORD_BEFORE.search(text, doc.line_start(at.line) or 0, offset)
        return Suggestion(text=outcome.text, at=at, word_before=word.group(0) if word else "")

    async def context_at(self, uri: str, position: types.Position,
                         budget: int | None = None) -> Mapping[str, Any] | None:
        """What a completion at `position` would send, and why (`deskmate/context`)."""
        await self.wait_for_settings()
        doc = self.documents.get(uri)
        if doc is None or self.exclusion(uri) is not None:
            return None
        offset = doc.offset_at(position, self.encoding)
        windows = await self.router.windows(self.config.chain("completion"))
        started = time.perf_counter()
        window = self.engine.window(path=self.relative_path(uri), text=doc.text, offset=offset,
                                    budget=budget or prompt_budget(self.config, windows),
                                    open_documents=self._open_documents(uri))
        return context_report(window, elapsed_ms=(time.perf_counter() - started) * 1000,
                              index_ms=0.0)

    async def aclose(self) -> None:
        await self.router.aclose()
