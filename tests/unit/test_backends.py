"""The HTTP model backends: requests as pure data (golden bodies), then real exchanges with
the fake model server on 127.0.0.1 — success, usage, errors, truncation, early stop.

"Kinds" are the six ways Deskmate talks to a server: five wire protocols, and the OpenAI one
twice (a FIM template through /completions, and a chat model through the fill-in prompt)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from deskmate.context.budget import count_tokens
from deskmate.context.pack import Snippet
from deskmate.prompts.render import Message, chat_template
from deskmate.server.backends import create_backend
from deskmate.server.backends.base import (
    Backend,
    ChatRequest,
    FimRequest,
    Generation,
    Request,
    generate,
)
from deskmate.server.backends.facts import BACKENDS, LOCAL
from deskmate.server.backends.http import HttpBackend
from deskmate.server.config import Profile
from deskmate.server.errors import BadResponse, HTTPStatus, Unavailable
from tests.fakes.model_server import ModelServer, Reply

KEY_ENV = "DESKMATE_TEST_BACKEND_KEY"
KEY = "sk-test-0123456789-SECRET"
BASE = "http://models.test:9000"

# kind -> its profile (url and api_key_env are filled in per test)
KINDS: dict[str, Profile] = {
    "openai": Profile(name="openai", backend="openai", model="starcoder2-3b", fim="starcoder"),
    "openai-chat": Profile(name="openai-chat", backend="openai", model="gpt-4o-mini", fim="none"),
    "ollama": Profile(name="ollama", backend="ollama", model="qwen2.5-coder:1.5b"),
    "llamacpp": Profile(name="llamacpp", backend="llamacpp", model="qwen2.5-coder-1.5b"),
    "anthropic": Profile(name="anthropic", backend="anthropic", model="claude-3-5-haiku-latest"),
    "mistral": Profile(name="mistral", backend="mistral", model="codestral-latest"),
}
ALL = list(KINDS)
FIM_PATHS = {
    "openai": "/v1/completions",
    "openai-chat": "/v1/chat/completions",
    "ollama": "/api/generate",
    "llamacpp": "/infill",
    "anthropic": "/v1/messages",
    "mistral": "/v1/fim/completions",
}

FIM = FimRequest(
    prefix="def add(a, b):\n    return ",
    suffix="\n\nprint(add(1, 2))\n",
    path="src/calc.py",
    language="python",
    max_tokens=64,
    temperature=0.1,
    extra=(Snippet(path="src/util.py", start_line=1, end_line=2, header="# src/util.py:1-2",
                   text="def helper():\n    pass\n"),
           Snippet(path="README.md", start_line=1, end_line=1, header="# README.md:1-1",
                   text="# calc\n")),
)
CHAT = ChatRequest(
    messages=(Message("system", "Be brief."), Message("user", "Explain add().")),
    max_tokens=256,
    temperature=0.3,
)
CODE = "a + b\n\n\ndef sub(a, b):\n    return a - b"


def make_profile(kind: str, url: str, *, api_key_env: str = "") -> Profile:
    base = url + "/v1" if kind.startswith("openai") else url
    return replace(KINDS[kind], url=base, api_key_env=api_key_env)


@asynccontextmanager
async def opened(kind: str, url: str, *, api_key_env: str = "") -> AsyncIterator[HttpBackend]:
    backend = create_backend(make_profile(kind, url, api_key_env=api_key_env), timeout_s=5.0)
    assert isinstance(backend, HttpBackend)
    try:
        yield backend
    finally:
        await backend.aclose()


def model_says(kind: str, code: str) -> str:
    """What the model streams to insert `code`: a chat model (OpenAI without FIM) wraps it in
    the tags it was asked for; Anthropic's turn was prefilled with the opening tag and its
    stop sequence swallows the closing one."""
    return f"<completion>{code}" if kind == "openai-chat" else code


async def ask(backend: Backend, request: Request = FIM, **kwargs: Any) -> Generation:
    return await generate(backend, request, **kwargs)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- golden requests

FILL_IN_SYSTEM = chat_template("fill_in").sections[0].content
# Other files' snippets: under header comments for servers that take a plain prompt...
COMMENTED_SNIPPETS = "# src/util.py:1-2\ndef helper():\n    pass\n# README.md:1-1\n# calc\n"
FILL_IN_USER = ("Code from the project that may help:\n\n" + COMMENTED_SNIPPETS + "\n"
                "File `src/calc.py` (python):\n\n"
                "def add(a, b):\n    return <CURSOR>\n\nprint(add(1, 2))\n")
CHAT_MESSAGES = [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Explain add()."}]
OPENAI_CHAT_BODY = {"messages": CHAT_MESSAGES, "max_tokens": 256, "temperature": 0.3,
                    "stream": True, "stream_options": {"include_usage": True}}

# kind -> (url, body) for FIM and for CHAT, with BASE as the server's address
GOLDEN_FIM: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": (f"{BASE}/v1/completions", {
        "model": "starcoder2-3b",
        # ...and marked with StarCoder's own file separator before its FIM tokens.
        "prompt": "<file_sep>src/util.py\ndef helper():\n    pass\n<file_sep>README.md\n# calc\n"
                  "<file_sep>src/calc.py\n"
                  "<fim_prefix>def add(a, b):\n    return <fim_suffix>\n\nprint(add(1, 2))\n"
                  "<fim_middle>",
        "max_tokens": 64,
        "temperature": 0.1,
        "stop": ["<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
                 "<repo_name>"],
        "stream": True,
        "stream_options": {"include_usage": True},
    }),
    "openai-chat": (f"{BASE}/v1/chat/completions", {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": FILL_IN_SYSTEM},
                     {"role": "user", "content": FILL_IN_USER}],
        "max_tokens": 64,
        "temperature": 0.1,
        "stream": True,
        "stream_options": {"include_usage": True},
        "stop": ["</completion>"],
    }),
    "ollama": (f"{BASE}/api/generate", {
        "model": "qwen2.5-coder:1.5b",
        "prompt": COMMENTED_SNIPPETS + "def add(a, b):\n    return ",
        "suffix": "\n\nprint(add(1, 2))\n",
        "stream": True,
        "options": {"num_predict": 64, "temperature": 0.1},
    }),
    "llamacpp": (f"{BASE}/infill", {
        "input_prefix": "def add(a, b):\n    return ",
        "input_suffix": "\n\nprint(add(1, 2))\n",
        "input_extra": [{"filename": "src/util.py", "text": "def helper():\n    pass\n"},
                        {"filename": "README.md", "text": "# calc\n"}],
        "n_predict": 64,
        "temperature": 0.1,
        "stream": True,
        "cache_prompt": True,
    }),
    "anthropic": (f"{BASE}/v1/messages", {
        "model": "claude-3-5-haiku-latest",
        "system": FILL_IN_SYSTEM,
        "messages": [{"role": "user", "content": FILL_IN_USER},
                     {"role": "assistant", "content": "<completion>"}],
        "max_tokens": 64,
        "temperature": 0.1,
        "stop_sequences": ["</completion>"],
        "stream": True,
    }),
    "mistral": (f"{BASE}/v1/fim/completions", {
        "model": "codestral-latest",
        "prompt": COMMENTED_SNIPPETS + "def add(a, b):\n    return ",
        "suffix": "\n\nprint(add(1, 2))\n",
        "max_tokens": 64,
        "temperature": 0.1,
        "stream": True,
    }),
}
GOLDEN_CHAT: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": (f"{BASE}/v1/chat/completions", {"model": "starcoder2-3b", **OPENAI_CHAT_BODY}),
    "openai-chat": (f"{BASE}/v1/chat/completions", {"model": "gpt-4o-mini", **OPENAI_CHAT_BODY}),
    "ollama": (f"{BASE}/api/chat", {
        "model": "qwen2.5-coder:1.5b",
        "messages": CHAT_MESSAGES,
        "stream": True,
        "options": {"num_predict": 256, "temperature": 0.3},
    }),
    "llamacpp": (f"{BASE}/v1/chat/completions",
                 {"model": "qwen2.5-coder-1.5b", **OPENAI_CHAT_BODY}),
    "anthropic": (f"{BASE}/v1/messages", {
        "model": "claude-3-5-haiku-latest",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Explain add()."}],
        "max_tokens": 256,
        "temperature": 0.3,
        "stream": True,
    }),
    # Mistral refuses OpenAI's stream_options (422 extra_forbidden) and reports usage anyway.
    "mistral": (f"{BASE}/v1/chat/completions", {
        "model": "codestral-latest",
        "messages": CHAT_MESSAGES,
        "max_tokens": 256,
        "temperature": 0.3,
        "stream": True,
    }),
}


def auth_for(kind: str, key: str) -> dict[str, str]:
    if kind == "anthropic":
        return {"anthropic-version": "2023-06-01", **({"x-api-key": key} if key else {})}
    return {"Authorization": f"Bearer {key}"} if key else {}


@pytest.mark.parametrize("kind", ALL)
async def test_fim_request_golden(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with opened(kind, BASE, api_key_env=KEY_ENV) as backend:
        call = backend.build_call(FIM)

    url, body = GOLDEN_FIM[kind]
    assert call.url == url
    assert dict(call.headers) == auth_for(kind, KEY)
    assert call.body == body
    assert call.fill_in == (kind in ("openai-chat", "anthropic"))
    assert call.framing == ("ndjson" if kind == "ollama" else "sse")


@pytest.mark.parametrize("kind", ALL)
async def test_chat_request_golden(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with opened(kind, BASE, api_key_env=KEY_ENV) as backend:
        call = backend.build_call(CHAT)

    url, body = GOLDEN_CHAT[kind]
    assert call.url == url
    assert dict(call.headers) == auth_for(kind, KEY)
    assert call.body == body
    assert call.fill_in is False


@pytest.mark.parametrize("kind", ALL)
async def test_no_key_configured_sends_no_auth_header(kind: str) -> None:
    async with opened(kind, BASE) as backend:
        headers = dict(backend.build_call(FIM).headers)

    assert headers == auth_for(kind, "")
    assert not any(name.lower() in ("authorization", "x-api-key") for name in headers)


async def test_trailing_slash_in_url_is_not_doubled() -> None:
    async with opened("ollama", BASE + "/") as backend:
        assert backend.build_call(FIM).url == f"{BASE}/api/generate"


@pytest.mark.parametrize(("kind", "expected"), [
    ("openai", f"{BASE}/v1/models"),
    ("openai-chat", f"{BASE}/v1/models"),
    ("ollama", f"{BASE}/api/tags"),
    ("llamacpp", f"{BASE}/v1/models"),
    ("anthropic", f"{BASE}/v1/models"),
    ("mistral", f"{BASE}/v1/models"),
])
async def test_models_url_is_the_url_plus_the_backends_models_path(kind: str,
                                                                    expected: str) -> None:
    async with opened(kind, BASE) as backend:
        assert backend.models_url() == expected
        backend.profile = replace(backend.profile, url=backend.profile.url + "/")
        assert backend.models_url() == expected


@pytest.mark.parametrize("name", sorted(BACKENDS))
async def test_create_backend_builds_the_class_the_facts_name(name: str) -> None:
    facts = BACKENDS[name]
    backend = create_backend(Profile(name="p", backend=name, url=facts.default_url))
    try:
        assert type(backend).__name__ == facts.class_name
        assert type(backend).__module__ == f"deskmate.server.backends.{name}"
        assert backend.profile.backend == name
    finally:
        await backend.aclose()


def test_create_backend_refuses_a_backend_the_facts_do_not_know() -> None:
    with pytest.raises(KeyError):
        create_backend(Profile(name="p", backend="carrier-pigeon"))


def test_every_http_kind_here_is_a_backend_in_the_facts_table() -> None:
    assert {profile.backend for profile in KINDS.values()} == set(BACKENDS) - {LOCAL}


@pytest.mark.parametrize(("kind", "expected"), [
    ("openai", GOLDEN_FIM["openai"][1]["prompt"]),
    ("ollama", COMMENTED_SNIPPETS + FIM.prefix + FIM.suffix),
    ("mistral", COMMENTED_SNIPPETS + FIM.prefix + FIM.suffix),
    ("llamacpp", "src/util.py\ndef helper():\n    pass\n\nREADME.md\n# calc\n\n"
                 + FIM.prefix + FIM.suffix),
    ("openai-chat", FILL_IN_SYSTEM + "\n\n" + FILL_IN_USER),
    ("anthropic", FILL_IN_SYSTEM + "\n\n" + FILL_IN_USER),
])
async def test_prompt_text_is_what_the_model_reads(kind: str, expected: str) -> None:
    async with opened(kind, BASE) as backend:
        assert backend.prompt_text(FIM) == expected


# --------------------------------------------------------------------------- real exchanges

@pytest.mark.parametrize("kind", ALL)
async def test_streamed_answer_is_reassembled_with_reported_usage(
    kind: str, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    model_server.reply = Reply(text=model_says(kind, CODE), pieces=12, usage=(321, 9))
    async with opened(kind, model_server.url, api_key_env=KEY_ENV) as backend:
        generation = await ask(backend)

    assert generation.text == CODE
    assert generation.finish_reason == "stop"
    assert (generation.prompt_tokens, generation.output_tokens) == (321, 9)
    assert generation.usage_reported is True
    assert generation.profile == kind
    assert generation.model == KINDS[kind].model
    assert generation.first_token_ms is not None
    assert generation.total_ms >= generation.first_token_ms
    [post] = model_server.posts()
    assert post.path == FIM_PATHS[kind]
    assert post.body == GOLDEN_FIM[kind][1]  # the same body crossed the socket
    for name, value in auth_for(kind, KEY).items():
        assert post.headers[name.lower()] == value


@pytest.mark.parametrize("kind", ALL)
async def test_chat_request_streams_the_answer(kind: str, model_server: ModelServer) -> None:
    model_server.reply = Reply(text="It adds two numbers.", pieces=5)
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend, CHAT)

    assert generation.text == "It adds two numbers."
    assert (generation.prompt_tokens, generation.output_tokens) == (11, 7)
    [post] = model_server.posts()
    assert post.body == GOLDEN_CHAT[kind][1]


# Anthropic's API always reports usage (the fake sends zeros when told not to).
@pytest.mark.parametrize("kind", [k for k in ALL if k != "anthropic"])
async def test_without_usage_the_counts_are_tiktoken_estimates(
    kind: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(text=model_says(kind, CODE), usage=None)
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend)
        prompt = backend.prompt_text(FIM)

    assert generation.text == CODE
    assert generation.usage_reported is False
    assert generation.output_tokens == count_tokens(CODE) == 15
    assert generation.prompt_tokens == count_tokens(prompt) > 10
    assert generation.prompt_text == prompt


@pytest.mark.parametrize("kind", ALL)
async def test_non_streamed_whole_answer_is_accepted(
    kind: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(text=model_says(kind, CODE), stream=False, usage=(40, 12))
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend)

    assert generation.text == CODE
    assert generation.finish_reason == "stop"
    assert (generation.prompt_tokens, generation.output_tokens) == (40, 12)
    assert generation.usage_reported is True


@pytest.mark.parametrize("kind", ALL)
async def test_hitting_max_tokens_finishes_with_length(
    kind: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(text=model_says(kind, "a +"), finish_reason="length")
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend)

    assert generation.text == "a +"
    assert generation.finish_reason == "length"


async def test_chat_fill_in_stops_reading_at_the_closing_tag(model_server: ModelServer) -> None:
    model_server.reply = Reply(text="<completion>```python\nreturn a + b\n```</completion>\n"
                                    "This returns the sum.", pieces=20)
    async with opened("openai-chat", model_server.url) as backend:
        generation = await ask(backend)

    assert generation.text == "return a + b"
    assert generation.finish_reason == "stop"
    # The usage chunk comes after the text, and reading stopped before it.
    assert generation.usage_reported is False


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("status", [401, 403, 429, 500])
async def test_http_error_status_is_reported_without_the_key(
    kind: str, status: int, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    model_server.reply = Reply(status=status)
    async with opened(kind, model_server.url, api_key_env=KEY_ENV) as backend:
        with pytest.raises(HTTPStatus) as caught:
            await ask(backend)

    assert caught.value.status == status
    assert caught.value.profile == kind
    message = str(caught.value)
    assert message.startswith(f"profile '{kind}': {model_server.url} answered HTTP {status}: ")
    assert "scripted status" in message  # the server's own words, for the user
    assert KEY not in message
    sent = model_server.posts()[0].headers  # the key did go out, in its header only
    assert KEY in (sent.get("x-api-key", ""), sent.get("authorization", "").removeprefix("Bearer "))


ECHO = '{"error": {"message": "Incorrect API key provided: '


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("padding", [0, 190 - len(ECHO)], ids=["whole", "across-the-cut"])
async def test_a_server_echoing_the_key_does_not_leak_it(
    kind: str, padding: int, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's error text is shown cut at 200 characters; the key may straddle the cut."""
    monkeypatch.setenv(KEY_ENV, KEY)
    body = ECHO + "x" * padding + KEY + '"}}'
    model_server.reply = Reply(status=401, raw_body=body.encode())
    async with opened(kind, model_server.url, api_key_env=KEY_ENV) as backend:
        with pytest.raises(HTTPStatus) as caught:
            await ask(backend)

    message = str(caught.value)
    assert caught.value.status == 401
    assert "Incorrect API key provided" in message
    assert KEY[:10] not in message


@pytest.mark.parametrize("kind", ALL)
async def test_models_on_a_wrong_url_is_http_404(kind: str, model_server: ModelServer) -> None:
    async with opened(kind, model_server.url + "/nowhere") as backend:
        with pytest.raises(HTTPStatus) as caught:
            await backend.models()

    assert caught.value.status == 404
    assert "not found; check the url and the model name" in str(caught.value)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("truncate", ["protocol", "connection"])
async def test_a_truncated_stream_is_a_bad_response_never_an_answer(
    kind: str, truncate: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(text=model_says(kind, CODE), truncate=truncate)
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse) as caught:
            await ask(backend)

    assert caught.value.profile == kind
    expected = "ended before the model finished" if truncate == "protocol" else "mid-answer"
    assert expected in str(caught.value)


@pytest.mark.parametrize("kind", ALL)
async def test_an_html_page_is_a_bad_response_naming_html(
    kind: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(raw_body=b"<html><body><h1>Welcome to nginx!</h1></body></html>",
                               content_type="text/html; charset=utf-8")
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse) as caught:
            await ask(backend)

    assert "answered with an HTML page" in str(caught.value)
    assert caught.value.profile == kind


@pytest.mark.parametrize("kind", ALL)
async def test_invalid_json_in_the_stream_is_a_bad_response(
    kind: str, model_server: ModelServer
) -> None:
    if kind == "ollama":
        raw, content_type = b'{"response": "a", "done": false}\n{not json\n', "application/x-ndjson"
    else:
        raw, content_type = b"data: {not json\n\n", "text/event-stream"
    model_server.reply = Reply(raw_body=raw, content_type=content_type)
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse) as caught:
            await ask(backend)

    assert "not JSON: '{not json'" in str(caught.value)


@pytest.mark.parametrize("kind", ALL)
async def test_a_closed_port_is_unavailable(kind: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with opened(kind, url) as backend:
        with pytest.raises(Unavailable) as caught:
            await ask(backend)

    assert caught.value.profile == kind
    assert f"cannot connect to {url}" in str(caught.value)


@pytest.mark.parametrize("kind", ALL)
async def test_a_missing_key_variable_is_unavailable_and_nothing_is_sent(
    kind: str, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    async with opened(kind, model_server.url, api_key_env=KEY_ENV) as backend:
        with pytest.raises(Unavailable) as caught:
            await ask(backend)

    assert str(caught.value) == f"profile '{kind}': the API key variable ${KEY_ENV} is not set"
    assert model_server.posts() == []


@pytest.mark.parametrize("kind", ALL)
async def test_keep_going_false_stops_early_and_hangs_up(
    kind: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(text=model_says(kind, "abcdefghij" * 6), pieces=30,
                               piece_delay_s=0.05)
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend, keep_going=lambda text: len(text) < 6)

    assert generation.finish_reason == "stopped"
    assert generation.text == "abcdef"
    assert generation.usage_reported is False
    assert generation.total_ms < 1000  # the whole answer would take 1.5 s
    assert model_server.wait_for(lambda: model_server.posts()[0].outcome == "client-closed")


@pytest.mark.parametrize("kind", ALL)
async def test_models_lists_the_servers_models(kind: str, model_server: ModelServer) -> None:
    model_server.models = ["coder-small", "coder-large"]
    async with opened(kind, model_server.url) as backend:
        assert await backend.models() == ["coder-small", "coder-large"]


@pytest.mark.parametrize("kind", ALL)
async def test_models_on_a_closed_port_is_unavailable(kind: str) -> None:
    async with opened(kind, f"http://127.0.0.1:{closed_port()}") as backend:
        with pytest.raises(Unavailable):
            await backend.models()


async def test_one_backend_answers_request_after_request(model_server: ModelServer) -> None:
    async with opened("openai", model_server.url) as backend:
        first = await ask(backend)
        second = await ask(backend)

    assert first.text == second.text == "return a + b"
    assert len(model_server.posts()) == 2


@pytest.mark.parametrize("kind", ALL)
async def test_finished_answers_leave_the_connection_open_for_the_next(
    kind: str, model_server: ModelServer
) -> None:
    # Reading the answer to its very end returns the connection to the pool: the next
    # request skips the TCP (and, for cloud APIs, TLS) handshake.
    model_server.reply = Reply(text=model_says(kind, CODE), pieces=6)
    async with opened(kind, model_server.url) as backend:
        for _ in range(4):
            await ask(backend)
            await asyncio.sleep(0.05)  # the rest of the answer is read in the background

    ports = {post.client_port for post in model_server.posts()}
    assert len(model_server.posts()) == 4
    assert len(ports) == 1, f"one connection per request: {ports}"
