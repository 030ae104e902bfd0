"""`deskmate/context`: what a completion at a position would send, and why — the same report
as `deskmate context --json`, through the same gate (an excluded document's report says that
nothing would be sent, and why)."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from deskmate.server.jobs.context_report import prompt_budget, report_context
from deskmate.server.lsp.session import Session

METHOD = "deskmate/context"


async def context(session: Session, params: Any) -> dict[str, Any] | None:
    """{textDocument: {uri}, position: {line, character}, budget?} → the report, or None when
    the document is not open."""
    uri, position, budget = _params(params)
    await session.wait_for_settings()
    taken = session.snapshot(uri, position)
    if taken is None:
        return None
    snapshot, _doc = taken
    if budget is None:
        windows = await session.router.windows(session.config.chain("completion"))
        budget = prompt_budget(session.config, windows)
    return await report_context(snapshot, session.engine, budget=budget,
                                index_ms=session.index_ms,
                                open_documents=session.open_documents(besides=uri))


def _params(params: Any) -> tuple[str, types.Position, int | None]:
    """pygls hands custom params over as attribute objects."""
    position = types.Position(line=int(params.position.line),
                              character=int(params.position.character))
    budget = getattr(params, "budget", None)
    return str(params.textDocument.uri), position, int(budget) if budget else None
