"""(a) Building the workspace index: cold (empty cache) against the raw tree-sitter parse of the
same files, where the cold time goes, and the warm load from the disk cache."""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.context_common import engine_for
from deskmate.context.extract import extract
from deskmate.context.languages import parser_for
from deskmate.context.symbols import Definition, FileSymbols, Import, to_tuple
from deskmate.context.workspace import FileEntry, Workspace


@dataclass(frozen=True)
class IndexResult:
    files: int  # files in the index
    megabytes: float  # their size on disk
    grammar_files: int  # of which parsed with a tree-sitter grammar
    grammar_megabytes: float
    cold_ms: float  # build_index() with an empty cache
    cold_parsed: int
    raw_parse_ms: float  # parser.parse(bytes) alone over the grammar files, best of REPEATS
    ratio: float  # cold_ms / raw_parse_ms
    workers: int  # worker processes of the parallel cold build
    pooled_ms: float  # cold build_index() parsing in `workers` processes (the CLI's way)
    warm_ms: float  # build_index() of a second engine on the same cache
    warm_parsed: int
    warm_cached: int
    cache_megabytes: float
    steps_ms: dict[str, float]  # the cold build's steps, re-timed one by one


REPEATS = 3


def measure_index(root: Path, cache_dir: Path) -> IndexResult:
    """Cold build into the empty `cache_dir` (left filled for later parts), raw parse, warm
    load. Every file is read once beforehand so the page cache is equally warm for all."""
    workspace = Workspace(root)
    entries = list(workspace.walk())
    for entry in entries:
        entry.absolute.read_bytes()

    cold = engine_for(root, cache_dir)
    started = time.perf_counter()
    cold_stats = cold.build_index()
    cold_ms = (time.perf_counter() - started) * 1000
    assert cold_stats is not None
    assert cold.index is not None

    grammar = {path: symbols.language for path in cold.index.paths()
               if (symbols := cold.index.file(path)) is not None and symbols.language}
    sources = [(grammar[e.path], e.absolute.read_bytes()) for e in entries if e.path in grammar]
    raw_ms = min(_raw_parse_ms(sources) for _ in range(REPEATS))

    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as pool_cache:
        pooled = engine_for(root, Path(pool_cache), workers=workers)
        started = time.perf_counter()
        pooled.build_index()
        pooled_ms = (time.perf_counter() - started) * 1000

    warm = engine_for(root, cache_dir)
    started = time.perf_counter()
    warm_stats = warm.build_index()
    warm_ms = (time.perf_counter() - started) * 1000
    assert warm_stats is not None

    indexed = [e for e in entries if cold.index.file(e.path) is not None]
    return IndexResult(
        files=cold_stats.files, megabytes=_megabytes(e.size for e in indexed),
        grammar_files=len(sources), grammar_megabytes=_megabytes(len(s) for _, s in sources),
        cold_ms=cold_ms, cold_parsed=cold_stats.parsed, raw_parse_ms=raw_ms,
        ratio=cold_ms / raw_ms if raw_ms else float("nan"),
        workers=workers, pooled_ms=pooled_ms,
        warm_ms=warm_ms, warm_parsed=warm_stats.parsed, warm_cached=warm_stats.cached,
        cache_megabytes=os.path.getsize(cold_stats.cache_path) / 1e6,
        steps_ms=cold_steps(workspace, root, {e.path: grammar.get(e.path) for e in indexed}),
    )


def _raw_parse_ms(sources: list[tuple[str, bytes]]) -> float:
    parsers = {language: parser_for(language) for language, _ in sources}
    for parser in parsers.values():
        parser.parse(b"")  # the grammar is loaded before the clock starts
    started = time.perf_counter()
    for language, source in sources:
        parsers[language].parse(source)
    return (time.perf_counter() - started) * 1000


def _megabytes(sizes: Iterable[int]) -> float:
    return sum(sizes) / 1e6


def cold_steps(workspace: Workspace, root: Path, languages: dict[str, str | None]
               ) -> dict[str, float]:
    """The steps of a cold build, each timed over all files: walk, read (and decode), parse,
    extract (definitions and imports, from the parsed tree), cache write.
    `languages` maps each indexed file to its grammar (None: a text file)."""
    clock = _Clock()
    with clock.step("walk"):
        entries = list(Workspace(root).walk())
    files: dict[str, FileSymbols] = {}
    for entry in entries:
        if entry.path not in languages:
            continue
        with clock.step("read"):
            text = workspace.read_text(entry)
        if text is not None:
            files[entry.path] = _symbols(clock, entry, languages[entry.path] or "",
                                         text.encode("utf-8", "surrogatepass"))
    with clock.step("cache write"), tempfile.TemporaryFile() as handle:
        pickle.dump({"files": [to_tuple(f) for f in files.values()]}, handle,
                    protocol=pickle.HIGHEST_PROTOCOL)
    return clock.ms


def _symbols(clock: _Clock, entry: FileEntry, language: str, source: bytes) -> FileSymbols:
    definitions: tuple[Definition, ...] = ()
    imports: tuple[Import, ...] = ()
    if language:
        with clock.step("parse"):
            tree = parser_for(language).parse(source)
        with clock.step("extract"):
            definitions, imports = extract(language, source, entry.path, tree)
    return FileSymbols(entry.path, language, definitions, imports,
                       mtime_ns=entry.mtime_ns, size=entry.size)


class _Clock:
    STEPS = ("walk", "read", "parse", "extract", "cache write")

    def __init__(self) -> None:
        self.ms = dict.fromkeys(self.STEPS, 0.0)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] += (time.perf_counter() - started) * 1000
