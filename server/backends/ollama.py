"""Ollama: `POST /api/generate` with `prompt` + `suffix` (the model's own FIM template is applied
by Ollama), `POST /api/chat` for chat; both stream newline-delimited JSON."""

from __future__ import annotations

from typing import Any

from deskmate.server.backends.base import (
    ChatRequest,
    Event,
    FimRequest,
    Finished,
    Request,
    TextDelta,
)
from deskmate.server.backends.http import HttpBackend, HttpCall, StreamMessage
from deskmate.server.errors import BadResponse


def generate_body(request: FimRequest, *, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "prompt": request.prefix_with_context(),
        "suffix": request.suffix,
        "stream": True,
        "options": {"num_predict": request.max_tokens, "temperature": request.temperature},
    }


def chat_body(request: ChatRequest, *, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "options": {"num_predict": request.max_tokens, "temperature": request.temperature},
    }


class LineParser:
    """Each line is one object; `done: true` closes the answer and carries the counts."""

    def __init__(self, *, chat: bool) -> None:
        self.chat = chat

    def feed(self, message: StreamMessage) -> list[Event]:
        data = message.data
        if not isinstance(data, dict):
            raise BadResponse(f"unexpected stream item {str(data)[:80]!r}")
        if "error" in data:
            raise BadResponse(f"the server reported an error: {data['error']}")
        text = (data.get("message") or {}).get("content", "") if self.chat else data.get(
            "response", "")
        events: list[Event] = [TextDelta(text)] if text else []
        if data.get("done"):
            events.append(Finished(reason=data.get("done_reason") or "stop",
                                   prompt_tokens=data.get("prompt_eval_count"),
                                   output_tokens=data.get("eval_count")))
        return events

    def end(self) -> list[Event]:
        return []  # only `done: true` proves the answer complete


class OllamaBackend(HttpBackend):
    def build_call(self, request: Request) -> HttpCall:
        base = self.profile.url.rstrip("/")
        if isinstance(request, FimRequest):
            return HttpCall(url=f"{base}/api/generate", headers=self.auth_headers(),
                            body=generate_body(request, model=self.profile.model),
                            parser=LineParser(chat=False), framing="ndjson")
        return HttpCall(url=f"{base}/api/chat", headers=self.auth_headers(),
                        body=chat_body(request, model=self.profile.model),
                        parser=LineParser(chat=True), framing="ndjson")

    def prompt_text(self, request: Request) -> str:
        if isinstance(request, FimRequest):
            return request.prefix_with_context() + request.suffix
        return "\n\n".join(m.content for m in request.messages)

    def model_names(self, payload: Any) -> list[str]:
        return [str(item["name"]) for item in payload["models"]]
