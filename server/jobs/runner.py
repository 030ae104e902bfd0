"""The one place every job goes through, whichever face asked for it.

    snapshot → gate → supersede the document's older job → the job (context in a worker
    thread, the router under the deadline) → version check → one record, one message

A job kind (`complete.py`, later `edit.py` and `explain.py`) says only what differs: the
context it asks for, the prompt, how an answer is validated and turned into a result. What
every job needs — the privacy gate, the deadline, cancellation, the attempts, the check that
the document did not move on, a single user-facing message per failure, and the `JobRecord` —
lives here, once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from deskmate.context.engine import ContextEngine
from deskmate.context.pack import ContextWindow
from deskmate.context.privacy import ExcludedDocument
from deskmate.server.backends.base import Request
from deskmate.server.config import Config
from deskmate.server.errors import BackendError, Timeout
from deskmate.server.jobs import gate
from deskmate.server.jobs.records import JobRecord, MemorySink, Outcome, Reason, RecordSink
from deskmate.server.jobs.snapshot import DocumentSnapshot
from deskmate.server.router import InvalidAnswer, OnText, Routed, Router, RoutingFailed, Validate

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Job(Protocol[T_co]):
    """What differs per kind of job."""

    kind: str  # the record's kind: completion | refactor | fix | docstring | explain
    task: str  # the route it takes: completion | refactor | explain

    def deadline_ms(self, config: Config) -> int: ...

    async def run(self, ctx: JobContext) -> T_co:
        """The job's work; its result, or a falsy `shown` result for nothing to show."""
        ...

    def shown(self, result: Any) -> bool:
        """Whether `result` has anything to show the user."""
        ...


@dataclass(frozen=True)
class JobResult(Generic[T]):
    value: T | None  # None when nothing is to be shown
    record: JobRecord
    message: str = ""  # the one message for the user when the job failed or was refused
    notice_key: str = ""  # the kind of trouble, so a face can show each kind once in a while


class JobContext:
    """What a running job may use: its snapshot, the config, the context engine (in a worker
    thread) and the router (under the job's deadline, its attempts recorded)."""

    def __init__(self, *, snapshot: DocumentSnapshot, config: Config, engine: ContextEngine,
                 router: Router, record: JobRecord, deadline: float,
                 open_documents: Mapping[str, Any]) -> None:
        self.snapshot = snapshot
        self.config = config
        self.engine = engine
        self.router = router
        self.record = record
        self.deadline = deadline  # loop time
        self.open_documents = open_documents
        self.pausing = False

    async def pause(self, seconds: float) -> None:
        """Wait for the user (typing to pause): a newer request cancels the job meanwhile,
        and the wait does not count against the deadline."""
        self.pausing = True  # stays set when cancelled meanwhile: the record says "debounced"
        await asyncio.sleep(seconds)
        self.pausing = False
        self.deadline += seconds

    async def budget(self, task: str) -> int:
        """Tokens a prompt may use for `task` within its profiles' model windows."""
        from deskmate.server.jobs.context_report import prompt_budget

        windows = await self.router.windows(self.config.chain(task))
        return prompt_budget(self.config, windows)

    async def window(self, budget: int) -> ContextWindow:
        """The packed context at the snapshot's cursor or selection, computed in a worker
        thread: one document's parsing and packing never hold up another's request."""
        snap, engine, documents = self.snapshot, self.engine, self.open_documents
        loop = asyncio.get_running_loop()
        window = await loop.run_in_executor(None, lambda: engine.window(
            path=snap.shown_path, text=snap.text, offset=snap.offset, end=snap.end,
            budget=budget, open_documents=documents, first_line=snap.first_line))
        self.record.context_tokens = window.tokens
        return window

    async def generate(self, task: str, request: Request, *,
                       keep_going: Callable[[str], bool] | None = None,
                       validate: Validate | None = None,
                       on_text: OnText | None = None) -> Routed:
        """The first acceptable answer from `task`'s chain of profiles."""
        return await self.router.generate(
            self.config.chain(task), request, deadline=self.deadline, keep_going=keep_going,
            validate=validate, on_text=on_text, attempts=self.record.attempts)


class JobRunner:
    def __init__(self, *, config: Callable[[], Config], router: Router,
                 engine: Callable[[], ContextEngine], sink: RecordSink | None = None) -> None:
        self._config = config
        self._router = router
        self._engine = engine
        self.sink: RecordSink = sink if sink is not None else MemorySink()
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._superseded: set[asyncio.Task[Any]] = set()

    async def run(self, job: Job[T], snapshot: DocumentSnapshot, *,
                  is_current: Callable[[], bool] | None = None,
                  open_documents: Mapping[str, Any] | None = None) -> JobResult[T]:
        """Run `job` on `snapshot`. `is_current` says whether the document is still at the
        snapshot's version (the result is dropped when not). A cancelled job (a newer request
        for the same document, or the client's `$/cancelRequest`) is recorded and re-raised."""
        started = time.perf_counter()
        record = JobRecord(kind=job.kind, path=snapshot.shown_path)
        engine, config = self._engine(), self._config()
        try:
            gate.check(snapshot, engine)
        except gate.Excluded as exc:
            return self._finish(record, started, "cancelled", "excluded", message=str(exc),
                                notice_key=f"excluded:{snapshot.key}")
        self._supersede(snapshot.key)
        loop = asyncio.get_running_loop()
        ctx = JobContext(snapshot=snapshot, config=config, engine=engine, router=self._router,
                         record=record, deadline=loop.time() + job.deadline_ms(config) / 1000,
                         open_documents=open_documents or {})
        try:
            value = await job.run(ctx)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            reason: Reason = "debounced" if ctx.pausing else "superseded"
            if task is not None and task in self._superseded:
                self._superseded.discard(task)
            self._finish(record, started, "cancelled", reason)
            raise
        except BackendError as exc:
            return self._failed(record, started, exc)
        except ExcludedDocument as exc:  # the engine's second line of defence
            message = str(gate.Excluded(snapshot.shown_path, exc.reason))
            return self._finish(record, started, "cancelled", "excluded", message=message,
                                notice_key=f"excluded:{snapshot.key}")
        if is_current is not None and not is_current():
            log.debug("dropped a %s for version %s of %s: the document moved on", job.kind,
                      snapshot.version, snapshot.shown_path)
            return self._finish(record, started, "cancelled", "stale")
        if not job.shown(value):
            return self._finish(record, started, "empty", "empty", value=value)
        return self._finish(record, started, "shown", None, value=value)

    def _supersede(self, key: str) -> None:
        """Cancel the job still running for `key`: the user has moved on. The current task
        becomes the one running for `key`."""
        current = asyncio.current_task()
        older = self._running.get(key)
        if older is not None and older is not current and not older.done():
            self._superseded.add(older)
            older.cancel()
        if current is not None:
            self._running[key] = current
            current.add_done_callback(lambda task: self._forget(key, task))

    def _forget(self, key: str, task: asyncio.Task[Any]) -> None:
        self._superseded.discard(task)
        if self._running.get(key) is task:
            del self._running[key]

    def _failed(self, record: JobRecord, started: float, exc: BackendError) -> JobResult[Any]:
        errors = exc.errors if isinstance(exc, RoutingFailed) else (exc,)
        last = errors[-1] if errors else exc
        reason: Reason
        outcome: Outcome
        if all(isinstance(e, InvalidAnswer) for e in errors):
            reason, outcome = "invalid", "invalid"
        elif isinstance(last, Timeout):
            reason, outcome = "timeout", "failed"
        else:
            reason, outcome = "backend_error", "failed"
        log.info("%s failed: %s", record.kind, exc)  # each face shows the message its way
        return self._finish(record, started, outcome, reason, message=str(exc),
                            notice_key=f"backend:{last.profile}:{type(last).__name__}")

    def _finish(self, record: JobRecord, started: float, outcome: Outcome,
                reason: Reason | None,
                *, value: Any = None, message: str = "", notice_key: str = ""
                ) -> JobResult[Any]:
        record.outcome, record.reason, record.message = outcome, reason, message
        record.total_ms = round((time.perf_counter() - started) * 1000, 1)
        try:
            self.sink.write(record)
        except Exception:  # a record that cannot be kept never costs the user the answer
            log.exception("could not record job %s", record.id)
        return JobResult(value=value if outcome in ("shown", "empty") else None,
                         record=record, message=message, notice_key=notice_key)
