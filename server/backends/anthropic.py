"""Anthropic's Messages API: `POST /v1/messages`, streamed as typed SSE events. Completion goes
through the chat fill-in prompt with the assistant turn prefilled with `<completion>`."""

from __future__ import annotations

from typing import Any

from deskmate.prompts.render import Message
from deskmate.server.backends.base import Event, FimRequest, Finished, Request, TextDelta
from deskmate.server.backends.chatfill import CLOSE_TAG, OPEN_TAG, fill_in_messages
from deskmate.server.backends.http import HttpBackend, HttpCall, StreamMessage
from deskmate.server.errors import BadResponse

API_VERSION = "2023-06-01"


def messages_body(request: Request, *, model: str) -> dict[str, Any]:
    messages: tuple[Message, ...] = (
        fill_in_messages(request) if isinstance(request, FimRequest) else request.messages
    )
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "messages": turns,
        "stream": True,
    }
    if system:
        body["system"] = system
    if isinstance(request, FimRequest):
        body["messages"].append({"role": "assistant", "content": OPEN_TAG})
        body["stop_sequences"] = [CLOSE_TAG]
    return body


class EventParser:
    def __init__(self) -> None:
        self.prompt_tokens: int | None = None
        self.output_tokens: int | None = None
        self.reason = "stop"

    def feed(self, message: StreamMessage) -> list[Event]:
        data = message.data
        if not isinstance(data, dict):
            raise BadResponse(f"unexpected stream item {str(data)[:80]!r}")
        kind = data.get("type") or message.event
        if kind == "error":
            error = data.get("error") or {}
            raise BadResponse(f"the server reported an error: {error.get('message', error)}")
        if kind == "message_start":
            self._usage((data.get("message") or {}).get("usage"))
        elif kind == "content_block_delta":
            text = (data.get("delta") or {}).get("text") or ""
            return [TextDelta(text)] if text else []
        elif kind == "message_delta":
            self.reason = (data.get("delta") or {}).get("stop_reason") or self.reason
            self._usage(data.get("usage"))
        elif kind == "message_stop":
            return [Finished(reason=_reason(self.reason), prompt_tokens=self.prompt_tokens,
                             output_tokens=self.output_tokens)]
        elif kind == "message":  # a whole, non-streamed answer
            self._usage(data.get("usage"))
            text = "".join(b.get("text", "") for b in data.get("content") or [])
            return [TextDelta(text), Finished(reason=_reason(data.get("stop_reason") or "stop"),
                                              prompt_tokens=self.prompt_tokens,
                                              output_tokens=self.output_tokens)]
        return []

    def end(self) -> list[Event]:
        return []  # only message_stop proves the answer complete

    def _usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.prompt_tokens = usage.get("input_tokens", self.prompt_tokens)
            self.output_tokens = usage.get("output_tokens", self.output_tokens)


def _reason(stop_reason: str) -> str:
    return "length" if stop_reason == "max_tokens" else "stop"


class AnthropicBackend(HttpBackend):
    def auth_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if key := self.profile.api_key():
            headers["x-api-key"] = key
        return headers

    def build_call(self, request: Request) -> HttpCall:
        return HttpCall(url=f"{self.profile.url.rstrip('/')}/v1/messages",
                        headers=self.auth_headers(),
                        body=messages_body(request, model=self.profile.model),
                        parser=EventParser(), fill_in=isinstance(request, FimRequest))

    def prompt_text(self, request: Request) -> str:
        messages = (fill_in_messages(request) if isinstance(request, FimRequest)
                    else request.messages)
        return "\n\n".join(m.content for m in messages)
