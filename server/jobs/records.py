"""One record per job: what was asked, which profiles were tried and how each fared, what it
cost in tokens and time, and how it ended — the row the ledger will store.

The runner writes every record to a `RecordSink`. Until the ledger (SQLite) exists, the sink
logs each record at debug level and keeps the last N in memory."""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from deskmate.server.router import Attempt

log = logging.getLogger(__name__)

# How a job ended. `accepted`, `rejected` and `ignored` follow `shown` once the editor
# reports what the user did with it.
Outcome = Literal["shown", "accepted", "rejected", "ignored", "empty", "failed", "cancelled",
                  "invalid"]
# Why nothing was shown.
Reason = Literal["debounced", "superseded", "stale", "excluded", "empty", "timeout",
                 "backend_error", "invalid", "cap_reached"]
_ids = itertools.count(1)


def new_job_id() -> str:
    """Unique within the process and across runs (the ledger keeps rows from many runs)."""
    return f"{uuid.uuid4().hex[:8]}-{next(_ids)}"


@dataclass(kw_only=True)
class JobRecord:
    id: str = field(default_factory=new_job_id)
    kind: str  # completion | refactor | fix | docstring | explain
    path: str  # the document, as the model sees it
    started_at: float = field(default_factory=time.time)  # wall clock, seconds
    attempts: list[Attempt] = field(default_factory=list)
    outcome: Outcome | None = None
    reason: Reason | None = None  # set when nothing was shown
    message: str = ""  # the one message the user saw, if any
    total_ms: float = 0.0
    context_tokens: int = 0

    @property
    def profiles(self) -> list[str]:
        return [a.profile for a in self.attempts]

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.attempts)

    @property
    def output_tokens(self) -> int:
        return sum(a.output_tokens for a in self.attempts)

    @property
    def first_token_ms(self) -> float | None:
        """First-token latency of the attempt that answered."""
        answered = [a for a in self.attempts if a.outcome == "ok"]
        return answered[-1].first_token_ms if answered else None

    def summary(self) -> str:
        tried = ", ".join(f"{a.profile}:{a.outcome}" for a in self.attempts) or "no model"
        why = f" ({self.reason})" if self.reason else ""
        return (f"job {self.id} {self.kind} {self.path}: {self.outcome}{why} in "
                f"{self.total_ms:.0f} ms; {tried}; tokens {self.prompt_tokens}→"
                f"{self.output_tokens}")


class RecordSink(Protocol):
    def write(self, record: JobRecord) -> None: ...


class MemorySink:
    """The last `size` records, newest last; each is logged at debug level as it arrives."""

    def __init__(self, size: int = 200) -> None:
        self._records: deque[JobRecord] = deque(maxlen=size)

    def write(self, record: JobRecord) -> None:
        self._records.append(record)
        log.debug("%s", record.summary())

    def __iter__(self) -> Iterator[JobRecord]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def last(self) -> JobRecord | None:
        return self._records[-1] if self._records else None
