"""What the context benchmarks share: the workspace (this machine's standard library), the
engine on a throw-away cache folder, the workspace's texts and the process's memory figures.

Imports nothing but the context package and the standard library, so the memory child
(`bench.context_memory`) measures the engine, not the benchmark's own tooling."""

from __future__ import annotations

import resource
import sysconfig
from collections.abc import Callable
from pathlib import Path

from deskmate.context.engine import ContextEngine
from deskmate.context.workspace import FileEntry

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SEED = 20240611  # fixed: the same positions and cases on every run


def engine_for(root: Path, cache_dir: Path, *, workers: int = 0) -> ContextEngine:
    """An engine whose index cache lives in `cache_dir`, never in the user's home; `workers`:
    processes that parse a cold build (0: this process, as the raw parse it is held to)."""
    return ContextEngine(root, cache_dir=cache_dir, workers=workers)


def read_file(engine: ContextEngine) -> Callable[[str], str | None]:
    """Reads a workspace-relative path as the engine's index does (None: gone, binary...)."""
    workspace = engine.workspace
    assert workspace is not None

    def read(path: str) -> str | None:
        absolute = workspace.root / path
        try:
            stat = absolute.stat()
        except OSError:
            return None
        return workspace.read_text(FileEntry(path=path, absolute=absolute, size=stat.st_size,
                                             mtime_ns=stat.st_mtime_ns))

    return read


def read_texts(engine: ContextEngine) -> dict[str, str]:
    """The text of every indexed file, by workspace-relative path."""
    assert engine.index is not None
    read = read_file(engine)
    return {path: text for path in sorted(engine.index.paths())
            if (text := read(path)) is not None}


def python_paths(engine: ContextEngine) -> list[str]:
    """Indexed Python files, sorted (the base every seeded sample draws from)."""
    assert engine.index is not None
    return sorted(p for p in engine.index.paths()
                  if (symbols := engine.index.file(p)) is not None
                  and symbols.language == "python")


def vm_rss_mb(field: str = "VmRSS") -> float:
    """A line of /proc/self/status in MB (VmRSS: now, VmHWM: the peak); nan elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """ru_maxrss of this process, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
