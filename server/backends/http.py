"""What every HTTP wire protocol shares: one pooled client per profile, the streaming loop,
SSE / NDJSON framing, and the mapping of transport failures onto Deskmate's errors.

A protocol module supplies two pure functions' worth of knowledge: `build_call` (request →
URL, headers, JSON body) and `parse` (one decoded stream message → events). Everything that
touches the network is here, once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from deskmate.server.backends.base import Event, Finished, Request, TextDelta
from deskmate.server.backends.chatfill import CompletionTagFilter
from deskmate.server.backends.facts import BACKENDS
from deskmate.server.config import Profile
from deskmate.server.errors import BackendError, BadResponse, HTTPStatus, Timeout, Unavailable

log = logging.getLogger(__name__)

DONE = "[DONE]"
DRAIN_S = 0.25


@dataclass(frozen=True)
class StreamMessage:
    """One framed message: the SSE event name ('' when none) and its decoded JSON data
    (or the string "[DONE]")."""

    event: str
    data: Any


class StreamParser(Protocol):
    """Per-call state that turns a protocol's messages into events."""

    def feed(self, message: StreamMessage) -> list[Event]:
        """Events in one message; a `Finished` among them ends the call."""
        ...

    def end(self) -> list[Event]:
        """The stream closed: a `Finished` if what came was a complete answer, else nothing."""
        ...


@dataclass(frozen=True, kw_only=True)
class HttpCall:
    url: str
    body: Mapping[str, Any]
    parser: StreamParser
    headers: Mapping[str, str] = field(default_factory=dict)
    framing: Literal["sse", "ndjson"] = "sse"
    # The answer is a chat model's fill-in: keep only the text inside <completion> tags and
    # stop reading at the closing tag.
    fill_in: bool = False


class HttpBackend:
    """Base for the HTTP protocols. Subclasses implement `build_call` and `prompt_text`, and
    `model_names` when the model list is not OpenAI's shape."""

    def __init__(self, profile: Profile, *, timeout_s: float = 30.0) -> None:
        self.profile = profile
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            # Keep-alive connections make the second request skip the TCP (and TLS) handshake.
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=60.0),
            follow_redirects=False,
        )
        self._background: set[asyncio.Future[None]] = set()

    # -- to implement -------------------------------------------------------------------

    def build_call(self, request: Request) -> HttpCall:
        raise NotImplementedError

    def prompt_text(self, request: Request) -> str:
        raise NotImplementedError

    def model_names(self, payload: Any) -> list[str]:
        """The names in the server's model list: OpenAI's `{"data": [{"id": …}]}` by default."""
        return [str(item["id"]) for item in payload["data"]]

    # -- shared --------------------------------------------------------------------------

    def models_url(self) -> str:
        """Where the server lists its models: the profile's url + the backend's models path."""
        return self.profile.url.rstrip("/") + BACKENDS[self.profile.backend].models_path

    def auth_headers(self) -> dict[str, str]:
        key = self.profile.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def require_key(self) -> None:
        if self.profile.api_key_env and not self.profile.api_key():
            raise Unavailable(
                f"the API key variable ${self.profile.api_key_env} is not set",
                profile=self.profile.name,
            )

    async def stream(self, request: Request) -> AsyncGenerator[Event, None]:
        call = self.build_call(request)
        self.require_key()
        log.debug("POST %s (profile %s)", call.url, self.profile.name)
        tags = CompletionTagFilter() if call.fill_in else None
        request_ = self._client.build_request("POST", call.url, json=call.body,
                                              headers=dict(call.headers))
        try:
            response = await self._client.send(request_, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, call.url) from None
        handed_off = False
        try:
            await self._check_status(response)
            messages = self._messages(response, call.framing)
            async for message in messages:
                events = _filtered(call.parser.feed(message), tags)
                for event in events:
                    if isinstance(event, Finished):
                        # The answer is complete; what is left ("[DONE]", the last chunk) is
                        # read in the background so the connection goes back to the pool and
                        # the next request skips the TCP and TLS handshakes.
                        handed_off = True
                        self._in_background(_drain_and_close(response, messages))
                        yield event
                        return
                    yield event
            for event in _filtered(call.parser.end(), tags):
                yield event
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, call.url) from None
        finally:
            if not handed_off:
                # Cancelled, stopped early or failed: closing the response hangs up on the
                # server, which stops generating.
                await response.aclose()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def model_name(self) -> str:
        return self.profile.model

    async def window(self) -> int:
        return self.profile.window  # servers do not say; 0 leaves it to [context] window

    async def models(self) -> list[str]:
        url = self.models_url()
        try:
            response = await self._client.get(url, headers=self.auth_headers())
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        if response.status_code >= 400:
            raise HTTPStatus(self._status_message(response.status_code, response.text, url),
                             status=response.status_code, profile=self.profile.name)
        try:
            return self.model_names(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise BadResponse(f"{url} did not list models ({exc})",
                              profile=self.profile.name) from None

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._client.aclose()

    # -- internals -----------------------------------------------------------------------

    async def _check_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        body = (await response.aread())[:2000].decode("utf-8", "replace")
        raise HTTPStatus(self._status_message(response.status_code, body, str(response.url)),
                         status=response.status_code, profile=self.profile.name)

    def _status_message(self, status: int, body: str, url: str) -> str:
        """The server's error text may quote the key it refused ("Incorrect API key: sk-…")."""
        key = self.profile.api_key()
        return _status_message(status, body.replace(key, "[API key]") if key else body, url)

    async def _messages(
        self, response: httpx.Response, framing: str
    ) -> AsyncIterator[StreamMessage]:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "text/html":
            raise BadResponse(
                f"{response.url} answered with an HTML page, not the model API (check the url; "
                "OpenAI-style URLs end in /v1)", profile=self.profile.name)
        if content_type == "application/json":
            # The server ignored "stream": one JSON document holds the whole answer.
            yield StreamMessage("", self._decode(await response.aread()))
            return
        if framing == "ndjson":
            async for line in response.aiter_lines():
                if line.strip():
                    yield StreamMessage("", self._decode(line))
            return
        event, data_lines = "", list[str]()
        async for line in response.aiter_lines():
            if not line:
                if data_lines:
                    data = "\n".join(data_lines)
                    yield StreamMessage(event, DONE if data.strip() == DONE else self._decode(data))
                event, data_lines = "", list[str]()
            elif line.startswith(":"):
                continue  # SSE comment / keep-alive
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    event = value
                elif name == "data":
                    data_lines.append(value)
        if data_lines:  # a last message without its blank line
            data = "\n".join(data_lines)
            yield StreamMessage(event, DONE if data.strip() == DONE else self._decode(data))

    def _decode(self, raw: str | bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            raise BadResponse(f"the server sent something that is not JSON: {text[:120]!r}",
                              profile=self.profile.name) from None

    def _transport_error(self, exc: httpx.HTTPError, url: str) -> BackendError:
        name = self.profile.name
        if isinstance(exc, httpx.ConnectTimeout):
            return Unavailable(f"{_origin(url)} did not accept a connection in time", profile=name)
        if isinstance(exc, httpx.TimeoutException):
            return Timeout(f"{_origin(url)} stopped answering (read timeout)", profile=name)
        if isinstance(exc, httpx.ConnectError):
            cause = exc.__context__ or exc.__cause__
            if isinstance(cause, ssl.SSLError) or "SSL" in str(exc) or "certificate" in str(exc):
                return Unavailable(f"TLS error talking to {_origin(url)}: {exc}", profile=name)
            return Unavailable(f"cannot connect to {_origin(url)} ({exc or 'refused'}); is the "
                               "model server running?", profile=name)
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return BadResponse(f"{_origin(url)} closed the connection mid-answer ({exc})",
                               profile=name)
        return Unavailable(f"request to {_origin(url)} failed: {exc}", profile=name)


async def _drain_and_close(response: httpx.Response,
                           messages: AsyncIterator[StreamMessage]) -> None:
    """Read what is left of a finished answer, then close the response: fully read, its
    connection is reused; a server that keeps talking past DRAIN_S is hung up on."""
    try:
        with contextlib.suppress(BackendError, httpx.HTTPError, TimeoutError):
            async with asyncio.timeout(DRAIN_S):
                async for _ in messages:
                    pass
    finally:
        await response.aclose()


def _filtered(events: list[Event], tags: CompletionTagFilter | None) -> list[Event]:
    """Pass events through the <completion> tag filter; the closing tag finishes the answer."""
    if tags is None:
        return events
    out: list[Event] = []
    for event in events:
        if isinstance(event, TextDelta):
            if text := tags.feed(event.text):
                out.append(TextDelta(text))
            if tags.done:
                out.append(Finished(reason="stop"))
                break
        else:
            if text := tags.flush():
                out.append(TextDelta(text))
            out.append(event)
    return out


def _origin(url: str) -> str:
    """scheme://host:port — enough to recognise the server, nothing from the query string."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _status_message(status: int, body: str, url: str) -> str:
    hints = {
        401: "the API key was refused; check the variable named by api_key_env",
        403: "access denied; check the API key and the account's permissions",
        404: "not found; check the url and the model name",
        429: "rate limited by the server; try again shortly",
    }
    hint = hints.get(status, "server error" if status >= 500 else "request refused")
    detail = " ".join(body.split())[:200]
    return f"{_origin(url)} answered HTTP {status}: {hint}" + (f" ({detail})" if detail else "")
