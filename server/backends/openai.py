"""OpenAI-compatible servers (vLLM, SGLang, TGI, LM Studio, llama-cpp-python, OpenAI itself).

FIM families render the template here and use `POST {url}/completions`; `fim = "none"` asks a
chat model through `POST {url}/chat/completions` with the fill-in prompt. `url` includes /v1."""

from __future__ import annotations

from typing import Any

from deskmate.prompts.render import fim_template
from deskmate.server.backends.base import Event, FimRequest, Finished, Request, TextDelta
from deskmate.server.backends.chatfill import CLOSE_TAG, fill_in_messages
from deskmate.server.backends.http import DONE, HttpBackend, HttpCall, StreamMessage
from deskmate.server.errors import BadResponse


def completions_body(request: FimRequest, *, model: str, family: str) -> dict[str, Any]:
    template = fim_template(family)
    return {
        "model": model,
        "prompt": template.render(request.prefix, request.suffix, request.extra, request.path),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": list(template.stop),
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def chat_body(request: Request, *, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": chat_messages(request),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def chat_messages(request: Request) -> list[dict[str, str]]:
    messages = fill_in_messages(request) if isinstance(request, FimRequest) else request.messages
    return [{"role": m.role, "content": m.content} for m in messages]


class ChunkParser:
    """OpenAI streaming chunks: text in `choices[].text` (completions) or `choices[].delta`
    (chat); `finish_reason` on the last choice chunk; usage in a final chunk; then [DONE]."""

    def __init__(self, *, chat: bool) -> None:
        self.chat = chat
        self.reason: str | None = None
        self.usage: dict[str, Any] = {}

    def feed(self, message: StreamMessage) -> list[Event]:
        data = message.data
        if data == DONE:
            return self.end() or [Finished(reason="stop")]
        if not isinstance(data, dict):
            raise BadResponse(f"unexpected stream item {str(data)[:80]!r}")
        if "error" in data:
            error = data["error"]
            detail = error.get("message", error) if isinstance(error, dict) else error
            raise BadResponse(f"the server reported an error: {detail}")
        events: list[Event] = []
        for choice in data.get("choices") or []:
            holder = (choice.get("delta") or choice.get("message") or {}) if self.chat else choice
            if text := holder.get("content" if self.chat else "text") or "":
                events.append(TextDelta(text))
            self.reason = choice.get("finish_reason") or self.reason
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        return events

    def end(self) -> list[Event]:
        if self.reason is None:
            return []
        return [Finished(reason=self.reason, prompt_tokens=self.usage.get("prompt_tokens"),
                         output_tokens=self.usage.get("completion_tokens"))]


class OpenAIBackend(HttpBackend):
    def _uses_fim(self, request: Request) -> bool:
        return isinstance(request, FimRequest) and self.profile.fim != "none"

    def build_call(self, request: Request) -> HttpCall:
        base = self.profile.url.rstrip("/")
        if isinstance(request, FimRequest) and self._uses_fim(request):
            return HttpCall(
                url=f"{base}/completions", headers=self.auth_headers(),
                body=completions_body(request, model=self.profile.model, family=self.profile.fim),
                parser=ChunkParser(chat=False),
            )
        body = chat_body(request, model=self.profile.model)
        if isinstance(request, FimRequest):
            # The server stops at the tag itself, so the stream goes on to report usage.
            body["stop"] = [CLOSE_TAG]
        return HttpCall(url=f"{base}/chat/completions", headers=self.auth_headers(), body=body,
                        parser=ChunkParser(chat=True), fill_in=isinstance(request, FimRequest))

    def prompt_text(self, request: Request) -> str:
        if isinstance(request, FimRequest) and self._uses_fim(request):
            return fim_template(self.profile.fim).render(request.prefix, request.suffix,
                                                         request.extra, request.path)
        return "\n\n".join(m["content"] for m in chat_messages(request))
