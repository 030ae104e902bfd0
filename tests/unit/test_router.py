"""The router against the real test model server: fallback on failure, escalation when a
job's validation refuses an answer, every attempt returned, text streamed through, and the
backends of profiles a reload removed closed."""

from __future__ import annotations

import asyncio

import pytest

from deskmate.server.backends.base import FimRequest, Generation
from deskmate.server.config import Profile
from deskmate.server.router import Router, RoutingFailed
from tests.fakes.model_server import ModelServer, Reply

REQUEST = FimRequest(prefix="def add(a, b):\n    ", suffix="\n")


def profile(server: ModelServer, name: str, model: str) -> Profile:
    return Profile(name=name, backend="openai", url=f"{server.url}/v1", model=model,
                   fim="starcoder")


def deadline(seconds: float = 5.0) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_a_failed_validation_moves_on_to_the_next_profile(
    model_server: ModelServer,
) -> None:
    model_server.queue(Reply(text="return a +"), Reply(text="return a + b"))
    chain = (profile(model_server, "small", "small-model"),
             profile(model_server, "big", "big-model"))
    seen: list[str] = []

    def validate(generation: Generation) -> str | None:
        seen.append(generation.text)
        return None if generation.text.endswith("b") else "the answer is cut short"

    router = Router()
    try:
        routed = await router.generate(chain, REQUEST, deadline=deadline(), validate=validate)
    finally:
        await router.aclose()

    assert routed.generation.text == "return a + b"
    assert routed.generation.profile == "big"
    assert seen == ["return a +", "return a + b"]
    assert [(a.profile, a.outcome) for a in routed.attempts] == [("small", "invalid"),
                                                                ("big", "ok")]
    assert "cut short" in routed.attempts[0].message
    assert (routed.attempts[1].prompt_tokens, routed.attempts[1].output_tokens) == (11, 7)
    assert [p.body["model"] for p in model_server.posts()] == ["small-model", "big-model"]


async def test_when_no_profile_answers_acceptably_every_attempt_comes_back(
    model_server: ModelServer,
) -> None:
    model_server.queue(Reply(status=503), Reply(text="nope"))
    chain = (profile(model_server, "first", "m1"), profile(model_server, "second", "m2"))
    router = Router()
    try:
        with pytest.raises(RoutingFailed) as failed:
            await router.generate(chain, REQUEST, deadline=deadline(),
                                  validate=lambda g: "refused")
    finally:
        await router.aclose()

    assert [(a.profile, a.outcome) for a in failed.value.attempts] == [
        ("first", "backend_error"), ("second", "invalid")]
    assert "'first'" in str(failed.value)
    assert "'second'" in str(failed.value)


async def test_text_is_streamed_through_as_it_arrives(model_server: ModelServer) -> None:
    model_server.reply = Reply(text="return a + b", pieces=3)
    pieces: list[tuple[str, str]] = []
    router = Router()
    try:
        routed = await router.generate((profile(model_server, "fast", "m"),), REQUEST,
                                       deadline=deadline(),
                                       on_text=lambda name, text: pieces.append((name, text)))
    finally:
        await router.aclose()

    assert len(pieces) == 3
    assert {name for name, _ in pieces} == {"fast"}
    assert "".join(text for _, text in pieces) == routed.generation.text


async def test_retire_closes_the_backends_of_removed_profiles(model_server: ModelServer) -> None:
    kept, removed = profile(model_server, "kept", "m1"), profile(model_server, "gone", "m2")
    router = Router()
    old, staying = router.backend(removed), router.backend(kept)

    await router.retire({kept})

    assert old._client.is_closed  # type: ignore[attr-defined]
    assert not staying._client.is_closed  # type: ignore[attr-defined]
    assert router.backend(kept) is staying
    assert router.backend(removed) is not old  # asked again, it gets a new one
    await router.aclose()
