"""Mistral's API (Codestral): `POST /v1/fim/completions` with `prompt` + `suffix`; chat through
`/v1/chat/completions`. Both stream OpenAI-style chat chunks."""

from __future__ import annotations

from typing import Any

from deskmate.server.backends.base import FimRequest, Request
from deskmate.server.backends.http import HttpBackend, HttpCall
from deskmate.server.backends.openai import ChunkParser
from deskmate.server.backends.openai import chat_body as openai_chat_body


def fim_body(request: FimRequest, *, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "prompt": request.prefix_with_context(),
        "suffix": request.suffix,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": True,
    }


def chat_body(request: Request, *, model: str) -> dict[str, Any]:
    body = openai_chat_body(request, model=model)
    # Mistral refuses OpenAI's stream_options (HTTP 422, extra_forbidden); it reports usage
    # in the last chunk anyway.
    del body["stream_options"]
    return body


class MistralBackend(HttpBackend):
    def build_call(self, request: Request) -> HttpCall:
        base = self.profile.url.rstrip("/")
        if isinstance(request, FimRequest):
            return HttpCall(url=f"{base}/v1/fim/completions", headers=self.auth_headers(),
                            body=fim_body(request, model=self.profile.model),
                            parser=ChunkParser(chat=True))
        return HttpCall(url=f"{base}/v1/chat/completions", headers=self.auth_headers(),
                        body=chat_body(request, model=self.profile.model),
                        parser=ChunkParser(chat=True))

    def prompt_text(self, request: Request) -> str:
        if isinstance(request, FimRequest):
            return request.prefix_with_context() + request.suffix
        return "\n\n".join(m.content for m in request.messages)
