"""The HTTP model backends: requests as pure data (golden bodies), then real exchanges with
the fake model server on 127.0.0.1 — success, usage, errors, truncation, early stop.

"Kinds" are the six ways Deskmate talks to a server: five wire protocols, and the OpenAI one
twice (a FIM template through /completions, and a chat model through the fill-in prompt)."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import socket
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from deskmate.context.budget import count_tokens
from deskmate.context.pack import Snippet
from deskmate.prompts.render import Message, chat_template
from deskmate.server.backends import create_backend, wire
from deskmate.server.backends.base import (
    MAX_CHARS_PER_TOKEN,
    MIN_ANSWER_CHARS,
    Backend,
    ChatRequest,
    FimRequest,
    Generation,
    Request,
    answer_limit,
    generate,
)
from deskmate.server.backends.facts import BACKENDS, LOCAL
from deskmate.server.backends.http import HttpBackend
from deskmate.server.backends.proxy import check_setting as check_proxy
from deskmate.server.backends.proxy import is_loopback, proxy_for
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


# --------------------------------------------------------------------------- proxies (issue 9)

PROXY = "http://proxy.example:3128"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST.",
                                  "api.localhost", "::1", "[::1]", "::ffff:127.0.0.1",
                                  "0.0.0.0", "::", "127.1", "0x7f.1", "2130706433",
                                  "ip6-localhost"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["model.test", "10.0.0.1", "192.168.1.2", "localhost.evil.com",
                                  "::2", "128.0.0.1", "fe80::1", "10.1", "cafe", "127.evil"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


ALL_VARIABLES = {"HTTP_PROXY": PROXY, "http_proxy": PROXY, "HTTPS_PROXY": PROXY,
                 "https_proxy": PROXY, "ALL_PROXY": PROXY, "all_proxy": PROXY}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/v1", "http://localhost:11434",
                                 "https://[::1]:8443", "http://127.0.0.2/v1"])
@pytest.mark.parametrize("setting", ["", "env", "http://127.0.0.1:9/", PROXY])
def test_loopback_never_goes_through_a_proxy(url: str, setting: str) -> None:
    assert proxy_for(url, setting, {**ALL_VARIABLES, "NO_PROXY": ""}) is None


@pytest.mark.parametrize(("url", "setting", "env", "expected"), [
    # By default nothing goes through a proxy, whatever the environment says.
    ("http://model.test/v1", "", ALL_VARIABLES, None),
    ("https://api.anthropic.com", "", ALL_VARIABLES, None),
    # A URL is that proxy.
    ("https://api.anthropic.com", "socks5://127.0.0.1:1080", {}, "socks5://127.0.0.1:1080"),
    # "env": the scheme's variable, lower case first, then ALL_PROXY; no scheme means http.
    ("http://model.test/v1", "env", {"HTTP_PROXY": "http://upper:1", "http_proxy":
                                     "http://lower:1"}, "http://lower:1"),
    ("http://model.test/v1", "env", {"HTTP_PROXY": "upper:8080"}, "http://upper:8080"),
    ("https://model.test/v1", "env", {"HTTP_PROXY": PROXY}, None),
    ("https://model.test/v1", "env", {"HTTPS_PROXY": PROXY}, PROXY),
    ("https://model.test/v1", "env", {"ALL_PROXY": PROXY}, PROXY),
    ("https://model.test/v1", "env", {}, None),
    # NO_PROXY: domains (and their subdomains), *, addresses, networks, ports.
    ("http://model.test/v1", "env", {"HTTP_PROXY": PROXY, "NO_PROXY": "localhost,model.test"},
     None),
    ("http://gpu.model.test/v1", "env", {"HTTP_PROXY": PROXY, "no_proxy": ".model.test"}, None),
    ("http://gpu.model.test/v1", "env", {"HTTP_PROXY": PROXY, "no_proxy": "*.model.test"}, None),
    ("http://othermodel.test/v1", "env", {"HTTP_PROXY": PROXY, "no_proxy": "model.test"}, PROXY),
    ("http://model.test/v1", "env", {"HTTP_PROXY": PROXY, "NO_PROXY": "*"}, None),
    ("http://10.1.2.3:8000/v1", "env", {"HTTP_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, None),
    ("http://10.1.2.3:8000/v1", "env", {"HTTP_PROXY": PROXY, "NO_PROXY": "10.1.2.3:9000"}, PROXY),
    ("http://10.1.2.3:8000/v1", "env", {"HTTP_PROXY": PROXY, "NO_PROXY": "10.1.2.3:8000"}, None),
])
def test_the_proxy_a_profile_uses(url: str, setting: str, env: dict[str, str],
                                  expected: str | None) -> None:
    assert proxy_for(url, setting, env) == expected


@pytest.mark.parametrize("value", ["", "env", PROXY, "https://p.example", "socks5://u:p@h:1080",
                                   "socks5h://h:1080", "HTTP://P.EXAMPLE:8080"])
def test_good_proxy_settings(value: str) -> None:
    assert check_proxy(value) is None


@pytest.mark.parametrize("value", ["ENV", "proxy.example:3128", "ftp://p.example", "http://",
                                   "http://p.example:port", "socks4://p.example:1080", " "])
def test_bad_proxy_settings_name_what_is_allowed(value: str) -> None:
    complaint = check_proxy(value)
    assert complaint is not None
    assert '"env"' in complaint


# --------------------------------------------------------------------------- bounded reading


async def _chunks(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _lines(*pieces: bytes, limit: int = wire.MAX_LINE_BYTES) -> list[str]:
    return [line async for line in wire.lines(_chunks(*pieces), limit)]


@pytest.mark.parametrize(("pieces", "expected"), [
    ((b"a\nb\n",), ["a", "b"]),
    ((b"a\r\nb\r\n",), ["a", "b"]),
    ((b"a\r", b"\nb\r\n"), ["a", "b"]),  # CRLF split across two chunks is one line end
    ((b"a\r", b"b\r"), ["a", "b"]),  # lone CRs end lines too (SSE allows it)
    ((b"a\r\r\nb",), ["a", "", "b"]),
    ((b"ab", b"c", b"\n\n"), ["abc", ""]),
    ((b"last",), ["last"]),
    ((b"\xe2\x86", b"\x92\n"), ["\u2192"]),  # a character split across chunks
    ((b"bad \xff\n",), ["bad \ufffd"]),
])
async def test_lines_split_like_sse(pieces: tuple[bytes, ...], expected: list[str]) -> None:
    assert await _lines(*pieces) == expected


async def test_a_line_longer_than_the_limit_is_a_bad_response() -> None:
    assert await _lines(b"x" * 10 + b"\n", limit=10) == ["x" * 10]
    for pieces in [(b"x" * 11 + b"\n",), (b"x" * 6, b"x" * 6), (b"x" * 11,)]:
        with pytest.raises(BadResponse, match="line of the answer is longer"):
            await _lines(*pieces, limit=10)


def _inflate(encoding: str, data: bytes) -> bytes:
    decoder = wire._decoder(encoding)
    out = [piece for chunk in (data[i:i + 1000] for i in range(0, len(data), 1000))
           for piece in decoder.feed(chunk)]
    assert all(len(piece) <= wire.STEP for piece in out)  # never a whole bomb at once
    return b"".join(out) + b"".join(decoder.flush())


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "deflate-raw", "gzip, gzip",
                                      "identity", ""])
def test_every_accepted_encoding_inflates_in_bounded_steps(encoding: str) -> None:
    plain = b"return a + b\n" * 50_000
    if encoding == "deflate-raw":
        squeezer = zlib.compressobj(wbits=-15)
        data, encoding = squeezer.compress(plain) + squeezer.flush(), "deflate"
    elif encoding == "deflate":
        data = zlib.compress(plain)
    elif encoding == "gzip, gzip":
        data = gzip.compress(gzip.compress(plain))
    elif encoding in ("gzip", "x-gzip"):
        half = len(plain) // 2  # two gzip members, as a server that flushes may send
        data = gzip.compress(plain[:half]) + gzip.compress(plain[half:])
    else:
        data = plain
    assert _inflate(encoding, data) == plain


@pytest.mark.parametrize(("encoding", "data", "expected"), [
    ("br", b"\x00", "encoded as 'br'"),
    ("gzip", b"not gzip at all", "gzip encoding is broken"),
])
def test_an_encoding_that_cannot_be_read_is_a_bad_response(encoding: str, data: bytes,
                                                            expected: str) -> None:
    with pytest.raises(BadResponse, match=expected):
        _inflate(encoding, data)


def test_body_limit_grows_with_max_tokens_from_a_floor() -> None:
    assert wire.body_limit() == wire.BASE_BODY_BYTES
    assert wire.body_limit(1000) == wire.BASE_BODY_BYTES + 1000 * wire.BODY_BYTES_PER_TOKEN
    assert answer_limit(1) == MIN_ANSWER_CHARS
    assert answer_limit(1000) == 1000 * MAX_CHARS_PER_TOKEN


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_gzip_answers_are_read(kind: str, stream: bool, model_server: ModelServer
                                     ) -> None:
    model_server.reply = Reply(text=model_says(kind, CODE), gzip=True, stream=stream)
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend)

    assert generation.text == CODE
    [post] = model_server.posts()
    assert post.headers["accept-encoding"] == wire.ACCEPT_ENCODING


BOMB = gzip.compress(b"\0" * (16 << 20)) * 8  # 128 MiB of zeros in 130 KB


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("reply", [
    Reply(raw_body=BOMB, content_encoding="gzip"),
    Reply(raw_body=BOMB, content_encoding="gzip", content_type="text/event-stream"),
    Reply(raw_body=b"", repeat=b"data: " + b"a" * 65536, content_type="text/event-stream"),
    Reply(raw_body=b'{"choices": [{"text": "', repeat=b"a" * 65536, repeat_bytes=64 << 20),
], ids=["gzip-bomb", "gzip-bomb-sse", "endless-line", "huge-json"])
async def test_what_the_wire_may_inflate_is_bounded(kind: str, reply: Reply,
                                                    model_server: ModelServer) -> None:
    if kind == "ollama" and reply.content_type:
        reply = replace(reply, content_type="application/x-ndjson")
    model_server.reply = reply
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse) as caught:
            await ask(backend)

    assert caught.value.profile == kind
    assert "larger than" in str(caught.value) or "longer than" in str(caught.value)


@pytest.mark.parametrize("kind", ALL)
async def test_an_answer_longer_than_max_tokens_allows_is_a_bad_response(
    kind: str, model_server: ModelServer
) -> None:
    request = replace(FIM, max_tokens=8)
    model_server.reply = Reply(text=model_says(kind, "x" * (MIN_ANSWER_CHARS + 1)), pieces=5)
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse, match="does not respect max_tokens") as caught:
            await ask(backend, request)
        model_server.reply = Reply(text=model_says(kind, "x" * MIN_ANSWER_CHARS), pieces=5)
        fits = await ask(backend, request)  # the control: right at the limit is an answer

    assert caught.value.profile == kind
    assert fits.text == "x" * MIN_ANSWER_CHARS


# --------------------------------------------------------------------------- shapes

WRONG_SHAPES = [b'{"choices": 5}', b'{"choices": [5]}', b'{"choices": [{"text": 5}]}',
                b'{"choices": [{"delta": "x", "message": [1]}]}', b'[1, 2]', b'"text"',
                b'{"message": 5, "response": [1], "content": {"a": 1}, "type": "message"}',
                b'{"type": "message", "content": [5]}', b'{"done": true, "response": 7}',
                b'{"stop": true, "content": ["a"]}', b'{"error": 5}', b'null',
                b'{"choices": [{"text": "a", "finish_reason": 7}]}',
                # text that is not text, before the fill-in filter of chat kinds reads it
                b'{"type": "content_block_delta", "delta": {"text": 5}, "choices": '
                b'[{"delta": {"content": 5}}], "content": 5, "stop": true}',
                b'[' * 100_000 + b']' * 100_000]


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("body", WRONG_SHAPES, ids=[f"shape{i}" for i in range(len(WRONG_SHAPES))])
@pytest.mark.parametrize("framing", ["json", "stream"])
async def test_a_wrongly_shaped_answer_is_one_bad_response_naming_the_profile(
    kind: str, body: bytes, framing: str, model_server: ModelServer
) -> None:
    if framing == "stream":
        stream_type = "application/x-ndjson" if kind == "ollama" else "text/event-stream"
        body = body + b"\n" if kind == "ollama" else b"data: " + body + b"\n\n"
        model_server.reply = Reply(raw_body=body, content_type=stream_type)
    else:
        model_server.reply = Reply(raw_body=body)
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse) as caught:
            await ask(backend)

    assert caught.value.profile == kind


@pytest.mark.parametrize("kind", ALL)
async def test_a_lone_surrogate_in_the_answer_becomes_a_replacement_character(
    kind: str, model_server: ModelServer
) -> None:
    model_server.reply = Reply(text=model_says(kind, "a\ud800b \U0001f600"))
    async with opened(kind, model_server.url) as backend:
        generation = await ask(backend)

    assert generation.text == "a\ufffdb \U0001f600"
    generation.text.encode("utf-8")


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_reported_not_followed(kind: str, status: int,
                                                   model_server: ModelServer) -> None:
    model_server.reply = Reply(status=status, raw_body=b"", headers={
        "Location": "http://user:pw@elsewhere.test/v1/completions?key=sk-1"})
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse) as caught:
            await ask(backend)
        with pytest.raises(BadResponse) as listing:
            await backend.models()

    for error in (caught.value, listing.value):
        message = str(error)
        assert error.profile == kind
        assert f"redirects (HTTP {status}) to http://elsewhere.test/v1/completions" in message
        assert "pw" not in message
        assert "sk-1" not in message
    assert len(model_server.posts()) == 1  # nothing was sent to the redirect's target


@pytest.mark.parametrize("kind", ALL)
async def test_an_empty_json_body_says_so(kind: str, model_server: ModelServer) -> None:
    model_server.reply = Reply(raw_body=b"")
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse, match="with an empty body") as caught:
            await ask(backend)

    assert caught.value.profile == kind


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("payload", [{"data": 5, "models": 5}, {"data": [3], "models": [3]},
                                     [], {"data": [[1]], "models": [[1]]}, "x"])
async def test_a_wrongly_shaped_model_list_is_a_bad_response(
    kind: str, payload: Any, model_server: ModelServer
) -> None:
    model_server.models_payload = payload
    async with opened(kind, model_server.url) as backend:
        with pytest.raises(BadResponse, match="did not list models") as caught:
            await backend.models()

    assert caught.value.profile == kind


@pytest.mark.parametrize(("url", "setting", "proxied"), [
    ("http://model.test/v1", "", False),  # remote, not opted in: direct
    ("https://api.anthropic.com", "", False),
    ("http://127.0.0.1:8080/v1", "env", False),  # loopback: never
    ("http://model.test/v1", "env", True),
    ("http://model.test/v1", PROXY, True),
])
async def test_the_http_client_uses_only_the_proxy_the_profile_chose(
    url: str, setting: str, proxied: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a network: the client's transports say whether a proxy is in the way (httpx
    mounts one transport per proxy; with none, requests use the client's own pool)."""
    for name, value in ALL_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    profile = Profile(name="p", backend="openai", url=url, model="m", proxy=setting)
    backend = create_backend(profile)
    assert isinstance(backend, HttpBackend)
    try:
        mounts = backend._client._mounts  # httpx: {URLPattern: transport or None}
        assert bool(mounts) == proxied
        assert not backend._client.trust_env  # never ~/.netrc nor the variables on its own
    finally:
        await backend.aclose()


async def test_a_socks_proxy_without_socksio_is_one_clear_message() -> None:
    if importlib.util.find_spec("socksio") is not None:
        pytest.skip("socksio is installed here")
    profile = Profile(name="p", backend="openai", url="http://model.test/v1", model="m",
                      fim="starcoder", proxy="socks5://127.0.0.1:1080")
    backend = create_backend(profile)
    try:
        with pytest.raises(Unavailable, match="SOCKS proxy, which needs the socksio") as caught:
            await generate(backend, FIM)
        with pytest.raises(Unavailable, match="socksio"):
            await backend.models()
    finally:
        await backend.aclose()
    assert caught.value.profile == "p"
