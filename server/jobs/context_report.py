"""What a completion would send, and why: `deskmate context` and the LSP request
`deskmate/context` answer the same, through the same gate as every job.

The report's fields are fixed (other tools read them); an excluded document gets a report
that says nothing would be sent, and why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from deskmate.context.budget import count_tokens
from deskmate.context.engine import ContextEngine
from deskmate.context.pack import ContextWindow
from deskmate.context.privacy import ExcludedDocument
from deskmate.server.config import Config
from deskmate.server.jobs import gate
from deskmate.server.jobs.snapshot import DocumentSnapshot

# Tokens kept aside for the FIM template's own tokens and the file header.
TEMPLATE_OVERHEAD = 32


def prompt_budget(config: Config, windows: Iterable[int] = ()) -> int:
    """Tokens a prompt may use within these model windows (the FIM template's own tokens set
    aside)."""
    return max(config.prompt_budget(windows) - TEMPLATE_OVERHEAD, 0)


def context_report(window: ContextWindow, *, elapsed_ms: float, index_ms: float
                   ) -> dict[str, Any]:
    """The report for a packed window."""
    prompt = window.prompt
    return {
        "budget": window.budget,
        "tokens": count_tokens(prompt),
        "prompt": prompt,
        "elapsed_ms": round(elapsed_ms, 3),
        "index_ms": round(index_ms, 3),
        "sections": [{"kind": s.kind, "path": s.path, "start_line": s.start_line,
                      "end_line": s.end_line, "tokens": s.tokens, "score": s.score,
                      "reason": s.reason, "included": s.included} for s in window.sections],
        "redactions": window.redactions,  # secrets replaced by a placeholder in `prompt`
        "excluded": None,
    }


def excluded_report(budget: int, reason: str, *, index_ms: float) -> dict[str, Any]:
    """The report for a document the gate refused: nothing would be sent."""
    return {"budget": budget, "tokens": 0, "prompt": "", "elapsed_ms": 0.0,
            "index_ms": round(index_ms, 3), "sections": [], "redactions": 0,
            "excluded": reason}


async def report_context(snapshot: DocumentSnapshot, engine: ContextEngine, *, budget: int,
                         index_ms: float, open_documents: Mapping[str, Any] | None = None
                         ) -> dict[str, Any]:
    """Gate, then pack in a worker thread, then report."""
    if (reason := gate.exclusion(snapshot, engine)) is not None:
        return excluded_report(budget, reason, index_ms=index_ms)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    try:
        window = await loop.run_in_executor(None, lambda: engine.window(
            path=snapshot.shown_path, text=snapshot.text, offset=snapshot.offset,
            end=snapshot.end, budget=budget, open_documents=open_documents or {},
            first_line=snapshot.first_line))
    except ExcludedDocument as exc:  # the engine's second line of defence
        return excluded_report(budget, exc.reason, index_ms=index_ms)
    return context_report(window, elapsed_ms=(time.perf_counter() - started) * 1000,
                          index_ms=index_ms)
