"""The workspace index: every file's definitions and imports, a name → definitions map, and
the module map imports are resolved in (`modules.py`). Built in the background, cached on disk
(keyed by path, mtime and size) so a second run only re-reads what changed.

Thread use: `build()` runs in a worker thread while the event loop reads; every update swaps
whole entries, so a reader sees a file either before or after, never half-updated."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pickle
import posixpath
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from deskmate.context.extract import symbols_for
from deskmate.context.modules import module_keys, resolve_import
from deskmate.context.symbols import (
    Definition,
    FileSymbols,
    FileTuple,
    Import,
    from_tuple,
    to_tuple,
)
from deskmate.context.workspace import FileEntry, Workspace

log = logging.getLogger(__name__)

CACHE_FORMAT = 4  # bump when FileSymbols or extraction changes meaning
PARALLEL_MIN_FILES = 300  # fewer files parse faster here than worker processes start
PARALLEL_BATCH_FILES = 40


@dataclass(frozen=True, slots=True)
class BuildStats:
    files: int
    parsed: int  # files read and parsed in this build
    cached: int  # files taken from the disk cache
    removed: int  # files gone since the cache was written
    elapsed_ms: float
    cache_path: str


class WorkspaceIndex:
    def __init__(self, workspace: Workspace, *, cache_dir: Path | None = None) -> None:
        self.workspace = workspace
        self.root = workspace.root
        self.cache_dir = cache_dir
        self._files: dict[str, FileSymbols] = {}
        self._by_name: dict[str, list[Definition]] = {}
        self._modules: dict[str, set[str]] = {}
        self._directories: dict[str, set[str]] = {}
        self._lock = threading.Lock()  # writers only; readers rely on atomic swaps

    # -- reading -------------------------------------------------------------------------

    def file(self, path: str) -> FileSymbols | None:
        return self._files.get(path)

    def paths(self) -> list[str]:
        return list(self._files)

    def files_in(self, directory: str) -> list[str]:
        """Indexed files directly in `directory` ('' for the root)."""
        return sorted(self._directories.get(directory, ()))

    def definitions_named(self, name: str) -> list[Definition]:
        return list(self._by_name.get(name, ()))

    def resolve(self, importer: str, language: str, imported: Import) -> tuple[list[str], str]:
        """Files an import refers to, and the name it reaches inside them when the module
        path ends in one (`from pkg import mod` vs `import pkg.Class` / Rust `use a::Item`)."""
        return resolve_import(self._modules, importer, language, imported)

    # -- building -------------------------------------------------------------------------

    def build(
        self,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        workers: int = 0,
    ) -> BuildStats:
        """Walk the workspace, reuse cached entries whose mtime and size match, parse the rest,
        drop what is gone, and write the cache back.

        With `workers`, parsing runs in that many worker processes (when there is enough of
        it to pay for starting them): the cold build uses the machine's cores, and the
        process that serves the editor keeps its GIL for answering requests."""
        started = time.perf_counter()
        cached = self._load_cache()
        entries = list(self.workspace.walk())
        seen = {entry.path for entry in entries}
        reused = 0
        stale: list[FileEntry] = []
        for entry in entries:
            old = cached.get(entry.path) or self._files.get(entry.path)
            if old is not None and old.mtime_ns == entry.mtime_ns and old.size == entry.size:
                if self._files.get(entry.path) is not old:
                    self._put(old)
                reused += 1
            else:
                stale.append(entry)
        done = reused
        if progress is not None:
            progress(done, len(entries))
        parsed = 0
        for symbols in self._parse_all(stale, workers=workers, cancelled=cancelled):
            self._put(symbols)
            parsed += 1
            done += 1
            if progress is not None and (done % 50 == 0 or done == len(entries)):
                progress(done, len(entries))
        removed = [path for path in self._files if path not in seen]
        if not cancelled():
            for path in removed:
                self.remove(path)
            self._save_cache()
        return BuildStats(files=len(self._files), parsed=parsed, cached=reused,
                          removed=len(removed), elapsed_ms=(time.perf_counter() - started) * 1000,
                          cache_path=str(self.cache_path or ""))

    def _parse_all(self, entries: list[FileEntry], *, workers: int,
                   cancelled: Callable[[], bool]) -> Iterator[FileSymbols]:
        if workers < 1 or len(entries) < PARALLEL_MIN_FILES:
            for entry in entries:
                if cancelled():
                    return
                if (symbols := self._parse(entry)) is not None:
                    yield symbols
            return
        # Files are read here (the workspace's rules about what may be read live here) and
        # parsed there; answers come back as plain tuples, the cheapest form to pickle.
        done: set[str] = set()
        try:
            for symbols in self._parse_in_workers(entries, workers, cancelled):
                done.add(symbols.path)
                yield symbols
        except (BrokenProcessPool, OSError) as exc:  # no processes here: parse in this one
            log.warning("worker processes failed (%s); indexing in this process", exc)
            yield from self._parse_all([e for e in entries if e.path not in done], workers=0,
                                       cancelled=cancelled)

    def _parse_in_workers(self, entries: list[FileEntry], workers: int,
                          cancelled: Callable[[], bool]) -> Iterator[FileSymbols]:
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            pending = set()
            for batch in _batches(entries, PARALLEL_BATCH_FILES):
                sources = [(e.path, text.encode("utf-8", "surrogatepass"), e.mtime_ns, e.size)
                           for e in batch if (text := self.workspace.read_text(e)) is not None]
                pending.add(pool.submit(_symbols_batch, sources))
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        for data in future.result():
                            yield from_tuple(data)
                    if cancelled():
                        return
            finally:
                for future in pending:
                    future.cancel()

    def update(self, path: str, text: str | None = None) -> None:
        """Re-index one file (saved or created: read it; open and unsaved: `text`)."""
        if self.workspace.is_excluded(path):
            self.remove(path)
            return
        absolute = self.root / path
        if text is None:
            try:
                stat = absolute.stat()
            except OSError:
                self.remove(path)
                return
            entry = FileEntry(path=path, absolute=absolute, size=stat.st_size,
                              mtime_ns=stat.st_mtime_ns)
            if (symbols := self._parse(entry)) is not None:
                self._put(symbols)
            return
        self._put(symbols_for(path, text.encode("utf-8", "surrogatepass")))

    def remove(self, path: str) -> None:
        with self._lock:
            old = self._files.pop(path, None)
            if old is not None:
                self._unlink(old)

    # -- internals --------------------------------------------------------------------------

    def _parse(self, entry: FileEntry) -> FileSymbols | None:
        text = self.workspace.read_text(entry)
        if text is None:
            return None
        try:
            return symbols_for(entry.path, text.encode("utf-8", "surrogatepass"),
                               mtime_ns=entry.mtime_ns, size=entry.size)
        except Exception:  # a grammar crash on one odd file must not stop the index
            log.exception("could not index %s", entry.path)
            return None

    def _put(self, symbols: FileSymbols) -> None:
        with self._lock:
            old = self._files.get(symbols.path)
            if old is not None:
                self._unlink(old)
            self._files[symbols.path] = symbols
            for definition in symbols.definitions:
                self._by_name.setdefault(definition.name, []).append(definition)
            for key in module_keys(symbols.language, symbols.path):
                self._modules.setdefault(key, set()).add(symbols.path)
            self._directories.setdefault(posixpath.dirname(symbols.path), set()).add(
                symbols.path)

    def _unlink(self, old: FileSymbols) -> None:
        for definition in old.definitions:
            named = self._by_name.get(definition.name)
            if named is not None:
                remaining = [d for d in named if d.path != old.path]
                if remaining:
                    self._by_name[definition.name] = remaining
                else:
                    del self._by_name[definition.name]
        for key in module_keys(old.language, old.path):
            paths = self._modules.get(key)
            if paths is not None:
                paths.discard(old.path)
                if not paths:
                    del self._modules[key]
        siblings = self._directories.get(posixpath.dirname(old.path))
        if siblings is not None:
            siblings.discard(old.path)

    @property
    def cache_path(self) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:20]
        return self.cache_dir / f"index-{digest}.pickle"

    def _load_cache(self) -> dict[str, FileSymbols]:
        path = self.cache_path
        if path is None or not path.is_file():
            return {}
        try:
            with path.open("rb") as handle:
                payload = pickle.load(handle)
        except Exception as exc:  # a damaged cache is rebuilt, never trusted
            log.info("index cache %s unreadable (%s); rebuilding", path, exc)
            return {}
        if (not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT
                or payload.get("root") != str(self.root.resolve())):
            return {}
        files = payload.get("files")
        if not isinstance(files, list):
            return {}
        try:
            return {data[0]: from_tuple(data) for data in files}
        except (TypeError, ValueError, IndexError):
            return {}

    def _save_cache(self) -> None:
        path = self.cache_path
        if path is None:
            return
        payload = {"format": CACHE_FORMAT, "root": str(self.root.resolve()),
                   "files": [to_tuple(symbols) for symbols in list(self._files.values())]}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside the cache and renamed over it: a crash never leaves half a file.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".index-", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except OSError as exc:
            log.info("could not write the index cache %s: %s", path, exc)


def _symbols_batch(sources: Sequence[tuple[str, bytes, int, int]]) -> list[FileTuple]:
    """Worker side: parse and extract a batch of files."""
    found = []
    for path, source, mtime_ns, size in sources:
        try:
            found.append(to_tuple(symbols_for(path, source, mtime_ns=mtime_ns, size=size)))
        except Exception:  # one odd file must not lose the batch
            log.exception("could not index %s", path)
    return found


def _batches(items: list[FileEntry], size: int) -> Iterator[list[FileEntry]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def default_cache_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".cache")
    return Path(base) / "deskmate"
