"""The text the benchmarks type into: a realistic ~300-line Python module with one method
left open for typing, the model's (scripted) answer there, and what the user types instead."""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

CURSOR = "@@cursor@@"

_HEADER = '''"""Inventory service: stock levels, reservations and reports for the warehouse API."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

log = logging.getLogger(__name__)
'''

_CLASS = '''

@dataclass
class {name}Record:
    """One {lower} entry as stored in the database."""

    sku: str
    quantity: int = 0
    price: float = 0.0
    tags: list[str] = field(default_factory=list)
    updated: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def total(self) -> float:
        return self.quantity * self.price


class {name}Store:
    """Keeps {lower} records in memory, indexed by SKU."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._records: dict[str, {name}Record] = {{}}
        self._counts: dict[str, int] = defaultdict(int)

    def add(self, record: {name}Record) -> None:
        if record.sku in self._records:
            raise ValueError(f"duplicate SKU {{record.sku!r}} in {{self.name}}")
        self._records[record.sku] = record
        for tag in record.tags:
            self._counts[tag] += 1
        log.debug("added %s to %s", record.sku, self.name)

    def remove(self, sku: str) -> {name}Record | None:
        record = self._records.pop(sku, None)
        if record is not None:
            for tag in record.tags:
                self._counts[tag] -= 1
        return record

    def find(self, tags: Iterable[str]) -> list[{name}Record]:
        wanted = set(tags)
        return [r for r in self._records.values() if wanted & set(r.tags)]

    def value(self) -> float:
        return sum(r.total() for r in self._records.values())

    def summary(self) -> str:
        {body}
'''

_NAMES = ("Pallet", "Shelf", "Bin", "Order", "Shipment", "Supplier")
_DONE_BODY = 'return f"{self.name}: {len(self._records)} records, {self.value():.2f}"'
_OPEN_AT = 3  # the class whose `summary` is being written

# What the scripted model answers at the open method: several lines, > 200 characters, that
# Deskmate's post-processing keeps whole (they stay inside the method's indentation).
SUGGESTION = (
    'lines = [f"{sku}: {r.quantity} x {r.price:.2f}" for sku, r in sorted(self._records.items())]\n'
    '        header = f"{self.name}: {len(lines)} records, value {self.value():.2f}"\n'
    '        rule = "-" * len(header)\n'
    '        return "\\n".join([header, rule, *lines, rule])'
)

# What the user types instead: code the suggestion never starts with, so no keystroke can be
# served by the typed-through cache.
_OTHER = (
    "total = 0\n"
    "        for record in self._records.values():\n"
    "            if record.quantity <= 0:\n"
    "                continue\n"
    "            total += record.total()\n"
    '            log.debug("counted %s (%d)", record.sku, record.quantity)\n'
    "        "
)


def document() -> tuple[str, types.Position]:
    """The module's text and the cursor in its open method (0-based line, UTF-16 column)."""
    parts = [_HEADER]
    for index, name in enumerate(_NAMES):
        body = CURSOR if index == _OPEN_AT else _DONE_BODY
        parts.append(_CLASS.format(name=name, lower=name.lower(), body=body))
    text = "".join(parts)
    offset = text.index(CURSOR)
    text = text[:offset] + text[offset + len(CURSOR):]
    line = text.count("\n", 0, offset)
    return text, types.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def other_text(length: int) -> str:
    """`length` characters of typing that differs from SUGGESTION from the first key on."""
    copies = -(-length // len(_OTHER))
    return (_OTHER * copies)[:length]


@dataclass
class Cursor:
    """A cursor that follows typed text (ASCII, so UTF-16 columns are code points)."""

    line: int
    character: int

    @classmethod
    def at(cls, position: types.Position) -> Cursor:
        return cls(position.line, position.character)

    def position(self) -> types.Position:
        return types.Position(line=self.line, character=self.character)

    def advance(self, char: str) -> None:
        if char == "\n":
            self.line, self.character = self.line + 1, 0
        else:
            self.character += 1
