"""A backend that is down, slow or refusing costs the user at most the deadline and one clear
message; the server keeps serving."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, running_client

SOURCE = "def add(a, b):\n    return \n"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def warnings_shown(client) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Warning]


async def test_backend_down_costs_one_message_and_the_server_keeps_serving(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    options = fast_profile(model_server)
    options["profiles"]["down"] = {"backend": "openai", "model": "m", "fim": "starcoder",
                                   "url": f"http://127.0.0.1:{closed_port()}/v1"}
    options["route"]["completion"] = ["down"]
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=options) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        results = [await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
                   for _ in range(3)]
        await asyncio.sleep(0.2)  # let any further message arrive before counting
        shown = warnings_shown(client)
        logged = [m.message for m in client.log_messages]

    assert all(isinstance(r, types.InlineCompletionList) and not r.items for r in results)
    [message] = shown
    assert "profile 'down'" in message
    assert "cannot connect" in message
    assert any("cannot connect" in line for line in logged)  # the editor's log has it too


async def test_slow_backend_ends_at_the_deadline(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="late", first_byte_delay_s=30)
    options = fast_profile(model_server)
    options["completion"]["deadline_ms"] = 600
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=options) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        started = time.monotonic()
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        elapsed = time.monotonic() - started
        shown = warnings_shown(client)

    assert isinstance(result, types.InlineCompletionList)
    assert not result.items
    assert 0.5 < elapsed < 3.0
    [message] = shown
    assert "deadline" in message


async def test_a_failing_profile_falls_back_to_the_next(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    model_server.reply = Reply(text="a + b")
    options = fast_profile(model_server)
    options["profiles"]["down"] = {"backend": "ollama", "model": "m",
                                   "url": f"http://127.0.0.1:{closed_port()}"}
    options["route"]["completion"] = ["down", "fast"]
    async with running_client(hermetic_env, editor=editor, root=workspace,
                              init_options=options) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        shown = warnings_shown(client)

    assert isinstance(result, types.InlineCompletionList)
    assert [i.insert_text for i in result.items] == ["a + b"]
    assert [p.path for p in model_server.posts()] == ["/v1/completions"]
    assert shown == []  # the chain worked: nothing to bother the user with


async def test_refused_api_key_is_explained_and_never_shown(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, editor: str
) -> None:
    secret = "sk-test-0123456789abcdef"
    model_server.reply = Reply(status=401)
    env = {**hermetic_env, "DESKMATE_TEST_KEY": secret}
    options = fast_profile(model_server, api_key_env="DESKMATE_TEST_KEY")
    async with running_client(env, editor=editor, root=workspace, init_options=options) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        shown = warnings_shown(client)
        logged = [m.message for m in client.log_messages]

    assert isinstance(result, types.InlineCompletionList)
    assert not result.items
    [post] = model_server.posts()
    assert post.headers["authorization"] == f"Bearer {secret}"  # sent where it belongs...
    [message] = shown
    assert "HTTP 401" in message
    assert "api_key_env" in message
    assert all(secret not in line for line in [*shown, *logged])  # ...and nowhere else
