"""The job runner with the real context engine, router and backends against the test model
server: every way a job ends leaves one record saying how, and why when nothing was shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deskmate.context.engine import ContextEngine
from deskmate.server.config import CompletionSettings, Config, Profile
from deskmate.server.jobs.complete import Completion, Completions
from deskmate.server.jobs.records import MemorySink
from deskmate.server.jobs.runner import JobRunner
from deskmate.server.jobs.snapshot import DocumentSnapshot
from deskmate.server.router import Router
from tests.fakes.model_server import ModelServer, Reply

SOURCE = "def add(a, b):\n    return \n"


def config_for(server: ModelServer, url: str | None = None, **completion: int) -> Config:
    profile = Profile(name="fast", backend="openai", url=url or f"{server.url}/v1",
                      model="test-model", fim="starcoder")
    settings = CompletionSettings(**{"debounce_ms": 0, **completion})
    return Config(profiles={"fast": profile}, route={"completion": ("fast",)},
                  completion=settings)


def snapshot(root: Path, name: str = "calc.py", text: str = SOURCE) -> DocumentSnapshot:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return DocumentSnapshot.from_file(path, workspace=root, line=2, column=12)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    return folder


def runner_for(config: Config, root: Path) -> tuple[JobRunner, MemorySink, Router]:
    sink, router = MemorySink(), Router()
    engine = ContextEngine(root, use_cache=False)
    return JobRunner(config=lambda: config, router=router, engine=lambda: engine,
                     sink=sink), sink, router


async def test_a_shown_completion_is_recorded_with_its_attempt_and_tokens(
    model_server: ModelServer, root: Path
) -> None:
    runner, sink, router = runner_for(config_for(model_server), root)
    try:
        result = await runner.run(Completions().job(), snapshot(root))
    finally:
        await router.aclose()

    assert isinstance(result.value, Completion)
    assert result.value.text == "return a + b"
    [record] = list(sink)
    assert record is result.record
    assert (record.kind, record.path, record.outcome, record.reason) == (
        "completion", "calc.py", "shown", None)
    assert [(a.profile, a.outcome) for a in record.attempts] == [("fast", "ok")]
    assert (record.prompt_tokens, record.output_tokens) == (11, 7)
    assert record.first_token_ms is not None
    assert record.total_ms > 0
    assert record.context_tokens > 0


async def test_an_excluded_document_is_refused_before_anything_is_sent(
    model_server: ModelServer, root: Path
) -> None:
    runner, sink, router = runner_for(config_for(model_server), root)
    try:
        result = await runner.run(Completions().job(), snapshot(root, ".env", SOURCE))
    finally:
        await router.aclose()

    assert result.value is None
    assert model_server.posts() == []
    assert (result.record.outcome, result.record.reason) == ("cancelled", "excluded")
    assert ".env" in result.message
    assert "nothing from it is sent" in result.message
    assert list(sink) == [result.record]


async def test_a_result_for_a_document_that_moved_on_is_dropped(
    model_server: ModelServer, root: Path
) -> None:
    runner, _, router = runner_for(config_for(model_server), root)
    try:
        result = await runner.run(Completions().job(), snapshot(root), is_current=lambda: False)
    finally:
        await router.aclose()

    assert result.value is None
    assert len(model_server.posts()) == 1
    assert (result.record.outcome, result.record.reason) == ("cancelled", "stale")


async def test_a_newer_job_for_the_same_document_supersedes_the_older(
    model_server: ModelServer, root: Path
) -> None:
    model_server.queue(Reply(text="a - b", first_byte_delay_s=5.0))
    runner, sink, router = runner_for(config_for(model_server), root)
    completions = Completions()
    snap = snapshot(root)
    try:
        older = asyncio.ensure_future(runner.run(completions.job(), snap))
        await asyncio.to_thread(model_server.wait_for, lambda: len(model_server.posts()) == 1)
        newer = await runner.run(completions.job(), snap)
        with pytest.raises(asyncio.CancelledError):
            await older
    finally:
        await router.aclose()

    assert isinstance(newer.value, Completion)
    assert newer.value.text == "return a + b"
    first, second = list(sink)
    assert (first.outcome, first.reason) == ("cancelled", "superseded")
    assert [a.outcome for a in first.attempts] == ["cancelled"]
    assert (second.outcome, second.reason) == ("shown", None)


async def test_a_job_cancelled_while_waiting_for_typing_to_pause_is_debounced(
    model_server: ModelServer, root: Path
) -> None:
    runner, sink, router = runner_for(config_for(model_server, debounce_ms=2000), root)
    completions = Completions()
    snap = snapshot(root)
    try:
        waiting = asyncio.ensure_future(runner.run(completions.job(automatic=True), snap))
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    finally:
        await router.aclose()

    [record] = list(sink)
    assert (record.outcome, record.reason) == ("cancelled", "debounced")
    assert model_server.posts() == []


async def test_a_backend_that_is_down_costs_one_message_and_a_failed_record(
    model_server: ModelServer, root: Path
) -> None:
    config = config_for(model_server, url="http://127.0.0.1:9/v1")
    runner, sink, router = runner_for(config, root)
    try:
        result = await runner.run(Completions().job(), snapshot(root))
    finally:
        await router.aclose()

    assert result.value is None
    assert "profile 'fast': cannot connect" in result.message
    assert result.notice_key == "backend:fast:Unavailable"
    [record] = list(sink)
    assert (record.outcome, record.reason) == ("failed", "backend_error")
    assert [a.outcome for a in record.attempts] == ["backend_error"]
