"""Ghost text: `textDocument/inlineCompletion`, and the same suggestion as one
`textDocument/completion` item for clients without inline completion. Translation only: the
job itself is `server/jobs/complete.py`, run by the session's job runner."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from lsprotocol import types

from deskmate.server.jobs.complete import Completion
from deskmate.server.lsp.documents import units
from deskmate.server.lsp.session import Session

log = logging.getLogger(__name__)

_WORD_BEFORE = re.compile(r"\w*$")
WORD_CHARS = 256  # the identifier before the cursor is looked for this far back at most


@dataclass(frozen=True)
class Suggestion:
    text: str  # what goes in at the cursor
    at: types.Position  # the cursor
    word_before: str  # identifier characters just before the cursor


async def suggest(session: Session, uri: str, position: types.Position, *, automatic: bool
                  ) -> Suggestion | None:
    """The suggestion at `position`, or None (each reason is in the job's record)."""
    await session.wait_for_settings()
    taken = session.snapshot(uri, position)
    if taken is None:
        return None
    snapshot, doc = taken
    result = await session.runner.run(
        session.completions.job(automatic=automatic), snapshot,
        is_current=session.is_current(uri, doc, snapshot.version),
        open_documents=session.open_documents(besides=uri))
    if result.record.reason == "excluded":
        session.explain_exclusion(uri, result.message)
    elif result.message:
        log.warning("completion failed: %s", result.message)
        session.warn(result.notice_key, result.message)
    completion = result.value
    if not isinstance(completion, Completion) or not completion.text:
        return None
    # Positions are canonical: a column past the line's end means its end. (The snapshot of
    # a huge document holds only a part of it, from `base` on.)
    at = doc.position_at(snapshot.base + snapshot.offset, session.encoding)
    line_start = (doc.line_start(at.line) or 0) - snapshot.base
    word = _WORD_BEFORE.search(snapshot.text, max(line_start, snapshot.offset - WORD_CHARS, 0),
                               snapshot.offset)
    return Suggestion(text=completion.text, at=at, word_before=word.group(0) if word else "")


async def inline_completion(session: Session, params: types.InlineCompletionParams
                            ) -> types.InlineCompletionList:
    automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
    found = await suggest(session, params.text_document.uri, params.position,
                          automatic=automatic)
    if found is None:
        return types.InlineCompletionList(items=[])
    if session.client.inline_items_without_range:
        # Drawn inline at the cursor, and the cursor lands right after it once accepted.
        return types.InlineCompletionList(items=[
            types.InlineCompletionItem(insert_text=found.text)])
    return types.InlineCompletionList(items=[types.InlineCompletionItem(
        insert_text=found.text, range=types.Range(start=found.at, end=found.at))])


async def completion(session: Session, params: types.CompletionParams) -> types.CompletionList:
    found = await suggest(session, params.text_document.uri, params.position, automatic=True)
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
