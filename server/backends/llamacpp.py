"""llama.cpp's server: `POST /infill` with `input_prefix`, `input_suffix` and cross-file
`input_extra` chunks (the server applies the model's FIM tokens); chat through its
OpenAI-compatible `/v1/chat/completions`."""

from __future__ import annotations

from typing import Any

from deskmate.server.backends.base import Event, FimRequest, Finished, Request, TextDelta
from deskmate.server.backends.http import HttpBackend, HttpCall, StreamMessage
from deskmate.server.backends.openai import ChunkParser
from deskmate.server.backends.openai import chat_body as openai_chat_body
from deskmate.server.errors import BadResponse


def infill_body(request: FimRequest) -> dict[str, Any]:
    return {
        "input_prefix": request.prefix,
        "input_suffix": request.suffix,
        # llama.cpp's server puts each chunk under the model's file separator with its name.
        "input_extra": [{"filename": s.path, "text": s.text} for s in request.extra],
        "n_predict": request.max_tokens,
        "temperature": request.temperature,
        "stream": True,
        "cache_prompt": True,  # reuse the KV cache across keystrokes that share a prefix
    }


class InfillParser:
    """SSE items `{"content": …, "stop": false}`; the last has `stop: true` and the counts."""

    def feed(self, message: StreamMessage) -> list[Event]:
        data = message.data
        if not isinstance(data, dict):
            raise BadResponse(f"unexpected stream item {str(data)[:80]!r}")
        if "error" in data:
            error = data["error"]
            detail = error.get("message", error) if isinstance(error, dict) else error
            raise BadResponse(f"the server reported an error: {detail}")
        events: list[Event] = [TextDelta(data["content"])] if data.get("content") else []
        if data.get("stop"):
            timings = data.get("timings") or {}
            events.append(Finished(
                reason="length" if data.get("stop_type") == "limit" else "stop",
                prompt_tokens=data.get("tokens_evaluated", timings.get("prompt_n")),
                output_tokens=data.get("tokens_predicted", timings.get("predicted_n")),
            ))
        return events

    def end(self) -> list[Event]:
        return []  # only `stop: true` proves the answer complete


class LlamaCppBackend(HttpBackend):
    def build_call(self, request: Request) -> HttpCall:
        base = self.profile.url.rstrip("/")
        if isinstance(request, FimRequest):
            return HttpCall(url=f"{base}/infill", headers=self.auth_headers(),
                            body=infill_body(request), parser=InfillParser())
        return HttpCall(url=f"{base}/v1/chat/completions", headers=self.auth_headers(),
                        body=openai_chat_body(request, model=self.profile.model),
                        parser=ChunkParser(chat=True))

    def prompt_text(self, request: Request) -> str:
        if isinstance(request, FimRequest):
            extra = "".join(f"{s.path}\n{s.text}\n" for s in request.extra)
            return extra + request.prefix + request.suffix
        return "\n\n".join(m.content for m in request.messages)
