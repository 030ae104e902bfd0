"""One document's request never holds up another's: a small document's inline completion is
answered while a 20 MB document's request is still in flight (its latency is reported by
`python -m bench.side_by_side`, not asserted here)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from lsprotocol import types

from bench.side_by_side import BIG_MARKER, big_source, cursor_of, small_source
from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, open_doc, running_client, send_request


def params(uri: str, at: types.Position) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at,
        context=types.InlineCompletionContext(
            trigger_kind=types.InlineCompletionTriggerKind.Invoked))


async def test_a_small_document_is_answered_while_a_huge_ones_request_runs(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="sum(values) / len(values)")
    model_server.reply_when(BIG_MARKER, Reply(hang=True))  # the big one stays in flight
    options = fast_profile(model_server)
    options["completion"]["deadline_ms"] = 60_000
    small, big = small_source(), big_source(20)
    async with running_client(hermetic_env, root=workspace, init_options=options) as client:
        small_uri = open_doc(client, workspace / "small.py", small)
        big_uri = open_doc(client, workspace / "big.py", big)
        big_request = send_request(client, types.TEXT_DOCUMENT_INLINE_COMPLETION,
                                   params(big_uri, cursor_of(big, f"{BIG_MARKER}():\n    return ")),
                                   msg_id="big")
        answer = await asyncio.wait_for(client.text_document_inline_completion_async(
            params(small_uri, cursor_of(small, "def mean(values):\n    return "))), 60)
        still_running = not big_request.done()
        reached_model = await asyncio.to_thread(model_server.wait_for, lambda: any(
            BIG_MARKER in str(p.body) for p in model_server.posts()), 60)
        client.protocol.notify("$/cancelRequest", {"id": "big"})
        with contextlib.suppress(Exception):  # RequestCancelled: what a cancel is owed
            await asyncio.wait_for(big_request, 30)

    assert isinstance(answer, types.InlineCompletionList)
    assert [item.insert_text for item in answer.items] == ["sum(values) / len(values)"]
    assert still_running
    assert reached_model  # the big document's request was real work, not refused early
