"""What every HTTP wire protocol shares: one pooled client per profile, the streaming loop,
SSE / NDJSON framing, and the mapping of transport failures onto Deskmate's errors.

A protocol module supplies two pure functions' worth of knowledge: `build_call` (request →
URL, headers, JSON body) and `parse` (one decoded stream message → events). Everything that
touches the network is here, once: which proxy (none for loopback, see proxy.py), the bounded
reading of the body (wire.py), and turning whatever a server sends that its protocol does not
allow (a redirect, an empty body, a wrong shape, JSON nested too deep) into one `BadResponse`
that names the profile."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from deskmate.server.backends import wire
from deskmate.server.backends.base import (
    Event,
    Finished,
    Request,
    checked,
    clean_text,
)
from deskmate.server.backends.chatfill import CompletionTagFilter, filtered
from deskmate.server.backends.facts import BACKENDS
from deskmate.server.backends.proxy import proxy_for
from deskmate.server.config import Profile
from deskmate.server.errors import BackendError, BadResponse, HTTPStatus, Timeout, Unavailable

log = logging.getLogger(__name__)

DONE = "[DONE]"
DRAIN_S = 0.25
ERROR_HEAD_BYTES = 2000  # of an error page: enough for the server's reason
# What a parser raises when a message has the wrong shape (`{"choices": 5}`): the server broke
# its protocol, which is a BadResponse, never a crash of the request.
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)


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
        # Set when the client cannot be built as configured (a SOCKS proxy without socksio):
        # every request then fails with it, and no request goes out another way.
        self._problem: BackendError | None = None
        proxy = proxy_for(profile.url, profile.proxy)
        try:
            self._client = self._new_client(timeout_s, proxy)
        except ImportError:
            self._problem = Unavailable(
                f"the proxy {_origin(proxy or '')} is a SOCKS proxy, which needs the socksio "
                "package: pip install 'httpx[socks]'", profile=profile.name)
            self._client = self._new_client(timeout_s, None)
        self._background: set[asyncio.Future[None]] = set()

    @staticmethod
    def _new_client(timeout_s: float, proxy: str | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            # Keep-alive connections make the second request skip the TCP (and TLS) handshake.
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=60.0),
            # A redirect could carry the prompt and the key to another host: reported instead.
            follow_redirects=False,
            # Never the environment's proxy variables nor ~/.netrc on httpx's own initiative:
            # `proxy` is what the profile chose (proxy.py). SSL_CERT_FILE/DIR still count.
            trust_env=False,
            proxy=proxy,
            verify=_tls_context(),
            headers={"Accept-Encoding": wire.ACCEPT_ENCODING},
        )

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
        if self._problem is not None:
            raise self._problem
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
            messages = self._messages(response, call.framing,
                                      wire.body_limit(request.max_tokens))
            async for message in messages:
                events = filtered(self._parsed(call.parser.feed, message, call.url), tags)
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
            for event in filtered(self._parsed(lambda _: call.parser.end(), None, call.url),
                                   tags):
                yield event
        except BadResponse as exc:
            raise self._named(exc) from None
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
        if self._problem is not None:
            raise self._problem
        url = self.models_url()
        request = self._client.build_request("GET", url, headers=self.auth_headers())
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        try:
            await self._check_status(response)
            body = await wire.read_body(wire.decoded_chunks(response, wire.body_limit()))
            payload = self._decode(body, response)
            return self.model_names(payload)
        except BadResponse as exc:
            raise self._named(exc) from None
        except SHAPE_ERRORS as exc:
            raise BadResponse(f"{_origin(url)} did not list models in the {self.profile.backend}"
                              f" shape ({_detail(exc)})", profile=self.profile.name) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._client.aclose()

    # -- internals -----------------------------------------------------------------------

    async def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            # Not followed: the prompt and the key would go wherever the answer points.
            target = _without_secrets(response.url.join(response.headers.get("location", "")))
            raise BadResponse(
                f"{_origin(str(response.url))} redirects (HTTP {status}) to {target}; "
                "redirects are not followed, so they cannot carry your code and key elsewhere: "
                "set the profile's url to the address the server wants",
                profile=self.profile.name)
        if status < 400:
            return
        try:
            head = await wire.read_head(response, ERROR_HEAD_BYTES)
        except BadResponse:
            head = b""  # an error page we cannot read: the status says enough
        raise HTTPStatus(self._status_message(status, head.decode("utf-8", "replace"),
                                              str(response.url)),
                         status=status, profile=self.profile.name)

    def _status_message(self, status: int, body: str, url: str) -> str:
        """The server's error text may quote the key it refused ("Incorrect API key: sk-…")."""
        key = self.profile.api_key()
        return _status_message(status, body.replace(key, "[API key]") if key else body, url)

    async def _messages(
        self, response: httpx.Response, framing: str, limit: int
    ) -> AsyncIterator[StreamMessage]:
        """The answer's messages, read with wire.py's bounds on bytes and line length."""
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "text/html":
            raise BadResponse(
                f"{response.url} answered with an HTML page, not the model API (check the url; "
                "OpenAI-style URLs end in /v1)", profile=self.profile.name)
        chunks = wire.decoded_chunks(response, limit)
        if content_type == "application/json":
            # The server ignored "stream": one JSON document holds the whole answer.
            yield StreamMessage("", self._decode(await wire.read_body(chunks), response))
            return
        if framing == "ndjson":
            async for line in wire.lines(chunks):
                if line.strip():
                    yield StreamMessage("", self._decode(line))
            return
        async for event, data in wire.server_sent_events(wire.lines(chunks)):
            yield StreamMessage(event, DONE if data.strip() == DONE else self._decode(data))

    def _decode(self, raw: str | bytes, response: httpx.Response | None = None) -> Any:
        if response is not None and not raw.strip():
            raise BadResponse(f"{_origin(str(response.url))} answered HTTP "
                              f"{response.status_code} with an empty body, not the "
                              f"{self.profile.backend} API's JSON (check the url)",
                              profile=self.profile.name)
        try:
            return json.loads(raw)
        except RecursionError:
            raise BadResponse("the server sent JSON nested too deeply to be a model's answer",
                              profile=self.profile.name) from None
        except ValueError:
            text = raw if isinstance(raw, str) else raw[:480].decode("utf-8", "replace")
            raise BadResponse(f"the server sent something that is not JSON: {text[:120]!r}",
                              profile=self.profile.name) from None

    def _parsed(self, step: Callable[[Any], list[Event]], message: Any, url: str
                ) -> list[Event]:
        """The events a parser makes of one message (`step(message)`): a message shaped
        unlike the protocol (`{"choices": 5}`, text that is not a string) is a BadResponse,
        never a crash, before the fill-in filter reads the text."""
        try:
            return [checked(event, self.profile.name) for event in step(message)]
        except BadResponse:
            raise
        except SHAPE_ERRORS as exc:
            raise BadResponse(
                f"{_origin(url)} answered in a shape the {self.profile.backend} protocol does "
                f"not have ({_detail(exc)}); check that the profile's backend and url match "
                "the server", profile=self.profile.name) from None

    def _named(self, exc: BadResponse) -> BadResponse:
        """`exc` naming this profile, its text safe to print (a parser does not know the
        profile, and may quote a server's lone surrogate)."""
        if exc.profile and clean_text(str(exc)) == str(exc):
            return exc
        message = str(exc).removeprefix(f"profile '{exc.profile}': ") if exc.profile else str(exc)
        return BadResponse(clean_text(message), profile=self.profile.name)

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


def _detail(exc: BaseException) -> str:
    return clean_text(f"{type(exc).__name__}: {exc}")[:120]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification, SSL_CERT_FILE / SSL_CERT_DIR included (they name the
    user's own CA bundle, not a destination); built once, shared by every client."""
    return httpx.create_ssl_context(trust_env=True)


def _without_secrets(url: httpx.URL) -> str:
    """scheme://host[:port]/path of a URL: no user:password, no query."""
    return _origin(str(url)) + url.path


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
    printable = "".join(c if c.isprintable() else " " for c in body[:ERROR_HEAD_BYTES])
    detail = " ".join(printable.split())[:200]
    return f"{_origin(url)} answered HTTP {status}: {hint}" + (f" ({detail})" if detail else "")
