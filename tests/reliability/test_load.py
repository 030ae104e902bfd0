"""Load (issue 5, item 5): a burst of keystrokes, each a change plus an as-you-type inline
request that cancels the one before, as VS Code sends them. Every request is answered exactly
once (a result, or RequestCancelled), the model is called a handful of times at most, and the
answer to the last keystroke comes right after the burst: no backlog."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, send_request
from tests.reliability.conftest import serving, warnings_shown

KEYSTROKES = 200
INTERVAL_S = 0.02
MODEL_S = 0.15  # the model's time to first byte
MAX_BACKEND_CALLS = 3
SOURCE = "def add(a, b):\n    return \n"
TYPED = "value_of_the_sum + "


def count_responses(client: Any) -> Counter[Any]:
    """Count every response the client receives, by request id (duplicates included: a second
    answer to the same id would otherwise only be logged)."""
    counts: Counter[Any] = Counter()
    original = client.protocol.handle_message

    def handle(message: Any) -> Any:
        if not hasattr(message, "method") and getattr(message, "id", None) is not None:
            counts[message.id] += 1
        return original(message)

    client.protocol.handle_message = handle
    return counts


async def test_keystroke_burst_is_answered_once_each_without_backlog(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="1", first_byte_delay_s=MODEL_S)
    options = fast_profile(model_server)
    del options["completion"]["debounce_ms"]  # as shipped: as-you-type requests wait a little
    async with serving(hermetic_env, root=workspace, init_options=options) as client:
        responses = count_responses(client)
        uri = open_doc(client, workspace / "m.py", SOURCE)
        pending: list[asyncio.Future[Any]] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(KEYSTROKES):
            if pending:  # the editor cancels the request of the previous keystroke
                client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"k{i - 1}"))
            column = 11 + i
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=i + 2),
                content_changes=[types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=1, character=column),
                                      end=types.Position(line=1, character=column)),
                    text=TYPED[i % len(TYPED)])]))
            pending.append(send_request(client, types.TEXT_DOCUMENT_INLINE_COMPLETION,
                                        inline_params(uri, 1, column + 1, invoked=False),
                                        msg_id=f"k{i}"))
            await asyncio.sleep(max(0.0, start + (i + 1) * INTERVAL_S - loop.time()))
        last_keystroke = time.monotonic()
        outcomes = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 15)
        last_answer_s = time.monotonic() - last_keystroke
        await asyncio.sleep(0.2)  # a duplicate answer would arrive by now
        shown = warnings_shown(client)
        ids = [f"k{i}" for i in range(KEYSTROKES)]
        counts = {i: responses[i] for i in ids}

    kinds = Counter("cancelled" if isinstance(o, JsonRpcRequestCancelled)
                    else "result" if isinstance(o, types.InlineCompletionList)
                    else repr(o) for o in outcomes)
    assert set(kinds) <= {"cancelled", "result"}, kinds
    assert counts == dict.fromkeys(ids, 1)  # every request answered exactly once
    last = outcomes[-1]
    assert isinstance(last, types.InlineCompletionList)
    assert [i.insert_text for i in last.items] == ["1"]  # the last keystroke gets its answer
    assert last_answer_s < 1.5  # ...right after the burst: no backlog of earlier requests
    calls = len(model_server.posts())
    assert 1 <= calls <= MAX_BACKEND_CALLS, f"{calls} backend calls for {KEYSTROKES} keys"
    assert shown == []
