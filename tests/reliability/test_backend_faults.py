"""Backend faults (issue 5, item 3): whatever a model backend does wrong — down, hanging,
dripping, cut short, answering garbage or an error status, speaking plain HTTP to an https URL —
each request ends within the job deadline with no item, the user sees one clear message however
many requests fail, and the server goes on serving a healthy profile."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc
from tests.reliability.conftest import (
    DEADLINE_MS,
    SLACK_S,
    closed_port,
    items_of,
    serving,
    switch_route,
    warnings_shown,
)

SOURCE = "def add(a, b):\n    return \n"
REQUESTS = 3  # failing requests in a row: the message must not repeat


@dataclass(frozen=True)
class Fault:
    where: str  # "server": the fault server answers with `reply`; "closed", "hang", "tls"
    expect: str  # what the one message must say
    reply: Reply | None = None
    # How the fault server must see each exchange end: the client answered in full
    # ("complete"), or hung up on a backend that would not finish ("client-closed").
    outcome: str = "complete"


SSE = "text/event-stream"
HTML = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>"

FAULTS = {
    "port-closed": Fault("closed", "cannot connect"),
    "connect-hangs": Fault("hang", "deadline"),
    "accepts-never-answers": Fault("server", "deadline", Reply(hang=True),
                                   outcome="client-closed"),
    "slow-drip": Fault("server", "deadline", Reply(drip_s=0.1), outcome="client-closed"),
    "stream-cut-mid-json": Fault("server", "closed the connection mid-answer",
                                 Reply(text="a + b", truncate="connection")),
    "stream-ends-without-final-event": Fault("server", "ended before the model finished",
                                             Reply(text="a + b", truncate="protocol")),
    "html-page": Fault("server", "HTML page", Reply(raw_body=HTML, content_type="text/html")),
    "invalid-json": Fault("server", "not JSON",
                          Reply(raw_body=b"{'choices': oops", content_type="application/json")),
    "invalid-json-in-stream": Fault("server", "not JSON",
                                    Reply(raw_body=b"data: {\"choices\": [{\"text\": oops\n\n",
                                          content_type=SSE)),
    "http-401": Fault("server", "HTTP 401", Reply(status=401)),
    "http-403": Fault("server", "HTTP 403", Reply(status=403)),
    "http-429": Fault("server", "HTTP 429", Reply(status=429)),
    "http-500": Fault("server", "HTTP 500", Reply(status=500)),
    "http-503": Fault("server", "HTTP 503", Reply(status=503)),
    "tls-error": Fault("tls", "TLS error"),
}


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
async def test_backend_fault_costs_at_most_the_deadline_and_one_message(
    fault: Fault, model_server: ModelServer, fault_server: ModelServer,
    hermetic_env: dict[str, str], workspace: Path, request: pytest.FixtureRequest,
) -> None:
    model_server.reply = Reply(text="a + b")
    if fault.reply is not None:
        fault_server.reply = fault.reply
    url = {
        "server": f"{fault_server.url}/v1",
        "closed": f"http://127.0.0.1:{closed_port()}/v1",
        "hang": f"http://127.0.0.1:{request.getfixturevalue('connect_hangs')}/v1",
        "tls": f"https://127.0.0.1:{fault_server.port}/v1",
    }[fault.where]
    options = fast_profile(model_server)
    options["profiles"]["bad"] = {"backend": "openai", "url": url, "model": "test-model",
                                  "fim": "starcoder"}
    options["route"]["completion"] = ["bad"]
    options["completion"]["deadline_ms"] = DEADLINE_MS

    async with serving(hermetic_env, root=workspace, init_options=options,
                       configuration={}) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        results, elapsed = [], []
        for _ in range(REQUESTS):
            started = time.monotonic()
            result = await client.text_document_inline_completion_async(
                inline_params(uri, 1, 11))
            elapsed.append(time.monotonic() - started)
            results.append(items_of(result))
        await switch_route(client, "fast")  # the user points completion at a working server
        healthy = items_of(await client.text_document_inline_completion_async(
            inline_params(uri, 1, 11)))
        await asyncio.sleep(0.1)  # a late message would arrive by now
        shown = warnings_shown(client)
        # Every exchange the fault server saw has ended: answered, or hung up on.
        ended = await asyncio.to_thread(fault_server.wait_for, lambda: all(
            p.outcome != "open" for p in fault_server.posts()), 3.0)

    assert results == [[]] * REQUESTS  # no item, and never a truncated answer as complete
    assert max(elapsed) < DEADLINE_MS / 1000 + SLACK_S, elapsed
    [message] = shown  # one message, however many requests failed
    assert "profile 'bad'" in message
    assert fault.expect in message
    assert healthy == ["a + b"]  # the server kept serving
    assert [p.path for p in model_server.posts()] == ["/v1/completions"]
    posts = fault_server.posts()
    assert ended, [p.outcome for p in posts]
    if fault.where == "server":
        assert [p.outcome for p in posts] == [fault.outcome] * REQUESTS
    else:
        assert posts == []  # nothing got as far as an HTTP request
