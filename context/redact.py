"""Secret redaction: what must never reach a model, replaced by PLACEHOLDER in every prompt
section before it is sent. (Whole files that must never be read — secret files, ignored and
binary files — are kept out earlier, by the exclusion rules in `privacy.py`; this catches the
secrets written inside ordinary files.)

Only high-confidence patterns count, because a false positive costs the model context it
needed: secrets known by their shape (`redact_rules.py`: provider tokens whose prefix is their
own, private keys in PEM, SSH2, PuTTY or base64 form, JWTs, credentials in URLs and `Bearer`
headers) and values given to a secret-looking name (`redact_assign.py`: assignments in code,
.env, INI and YAML, connection strings, URL queries, XML, split literals, secret-named blocks)
when the value looks like one (`redact_values.py`).

Redaction sees whole texts, never just a snippet: a private key's 50 lines hold neither marker
in a window cut from their middle, so the context engine finds the secrets of every text it
reads (the cursor's document, other open documents, files on disk) once per version
(`SecretScan`, kept by `documents.py`) and cuts its windows from the redacted text.

Only the secret is replaced: names, quotes and the code around it stay, so the model still sees
`password = "«redacted»"`. A secret over several lines leaves the placeholder on each of its
lines (their indentation kept), so every line keeps its number. Redacting redacted text changes
nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from deskmate.context.redact_assign import MAX_NAME_CHARS, find_named
from deskmate.context.redact_rules import CONTEXT_CHARS, Secret, find_private_keys, find_tokens
from deskmate.context.redact_values import entropy, looks_random, password_value, secret_name

__all__ = ["CONTEXT_CHARS", "MAX_NAME_CHARS", "PLACEHOLDER", "SCAN_CHUNK", "Secret",
           "SecretScan", "entropy", "find_secrets", "looks_random", "password_value", "redact",
           "redact_around", "redacted_part", "secret_name"]

# Four cl100k tokens; guillemets are syntax in no common programming language, so the model
# reads it as "something was removed here", not as code to imitate, and a completion that
# contains it can be recognized (and cut) without touching ordinary code.
PLACEHOLDER = "«redacted»"

_LONG_LINE = 1024
# A text up to this long is searched whole, once per version; a longer one (a large document,
# a 300 KB slice around the cursor) in chunks of SCAN_CHUNK characters, each with
# CONTEXT_CHARS around it, and only those chunks something is read from.
WHOLE_SCAN_CHARS = 262_144
SCAN_CHUNK = 65_536


def find_secrets(text: str) -> list[Secret]:
    """Every secret in `text`, in order, overlapping finds merged."""
    found = [*find_tokens(text), *find_named(text), *find_private_keys(text)]
    return _merge(found)


def _merge(found: Iterable[Secret]) -> list[Secret]:
    merged: list[Secret] = []
    for secret in sorted(found, key=lambda s: (s.start, -s.end)):
        if merged and secret.start < merged[-1].end:
            last = merged[-1]
            if secret.end > last.end:
                merged[-1] = Secret(last.start, secret.end, last.kind)
            continue
        merged.append(secret)
    return merged


# --------------------------------------------------------------------------- redacting


def redact(text: str) -> tuple[str, int]:
    """`text` with every secret replaced by PLACEHOLDER, and how many were replaced."""
    total = 0
    # A replaced secret can expose a boundary another pattern was waiting for; a second pass
    # finds it (it almost never does), so redacting redacted text changes nothing.
    for _ in range(4):
        secrets = find_secrets(text)
        if not secrets:
            break
        text = redacted_part(text, secrets, 0, len(text))
        total += len(secrets)
    return text, total


def redact_around(text: str, start: int, cursor: int, end: int) -> tuple[str, str, int]:
    """`text[start:cursor]` and `text[cursor:end]` (a prompt's prefix and suffix), redacted
    separately so the cursor stays between them, with the secrets found in the text around
    them: a secret cut by the cursor or by the edge of the window is still recognized, and
    each part of it is replaced. The count is of secrets touched. (The context engine uses
    the secrets of the whole document instead: `SecretScan`.)"""
    lo, hi = _context(text, start, end)
    touched = [Secret(s.start + lo, s.end + lo, s.kind) for s in find_secrets(text[lo:hi])
               if s.start + lo < end and s.end + lo > start]
    return (redacted_part(text, touched, start, cursor), redacted_part(text, touched, cursor, end),
            len(touched))


def _context(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened by CONTEXT_CHARS on each side, to line breaks unless a line is
    too long to read whole."""
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    line_start = text.rfind("\n", max(0, lo - _LONG_LINE), lo)
    lo = max(0, lo - _LONG_LINE) if line_start < 0 else line_start + 1
    line_end = text.find("\n", hi, hi + _LONG_LINE)
    hi = min(len(text), hi + _LONG_LINE) if line_end < 0 else line_end
    return lo, hi


def redacted_part(text: str, secrets: Iterable[Secret], start: int, end: int) -> str:
    """`text[start:end]` with the part of each secret inside it replaced by PLACEHOLDER — on
    each of its lines, after the line's indentation, so that every line keeps its number."""
    pieces: list[str] = []
    position = start
    for secret in secrets:
        s, e = max(secret.start, start), min(secret.end, end)
        if s >= e:
            continue
        pieces.append(text[position:s])
        part = text[s:e]
        if "\n" not in part:
            pieces.append(PLACEHOLDER)
        else:
            at_line_start = s == 0 or text[s - 1] == "\n"
            pieces.append("\n".join(
                _line_placeholder(line, indented=number > 0 or at_line_start)
                for number, line in enumerate(part.split("\n"))))
        position = e
    pieces.append(text[position:end])
    return "".join(pieces)


def _line_placeholder(line: str, *, indented: bool) -> str:
    """One line's part of a secret: the placeholder after its indentation (when the part
    starts its line: a part from mid-line has none), a `\\r` kept; a blank part as it is."""
    if not line.strip():
        return line
    indent = line[:len(line) - len(line.lstrip(" \t"))] if indented else ""
    return indent + PLACEHOLDER + ("\r" if line.endswith("\r") else "")


# --------------------------------------------------------------------------- whole texts


class SecretScan:
    """The secrets of one text (one version of a document), found once and kept: all at once
    for a text up to WHOLE_SCAN_CHARS, else chunk by chunk as parts of it are read (each
    chunk searched with CONTEXT_CHARS of text around it, so a secret across a chunk's edge is
    seen whole). Thread-safe: a chunk is searched under the scan's own lock."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lock = threading.Lock()
        self._chunks: dict[int, list[Secret]] = {}
        self._whole = len(text) <= WHOLE_SCAN_CHARS

    def within(self, start: int, end: int) -> list[Secret]:
        """The secrets that overlap [start, end), in order."""
        start, end = max(0, start), min(len(self.text), end)
        found: list[Secret] = []
        for chunk in self._chunk_range(start, end):
            found += (s for s in self._secrets_of(chunk) if s.start < end and s.end > start)
        return found if self._whole else _merge(found)

    def part(self, start: int, end: int) -> tuple[str, int]:
        """`text[start:end]` redacted, and how many secrets it touches."""
        secrets = self.within(start, end)
        if not secrets:
            return self.text[start:end], 0
        return redacted_part(self.text, secrets, start, end), len(secrets)

    def _chunk_range(self, start: int, end: int) -> range:
        if self._whole:
            return range(0, 1)
        return range(start // SCAN_CHUNK, max(end - 1, start) // SCAN_CHUNK + 1)

    def _secrets_of(self, chunk: int) -> list[Secret]:
        if (known := self._chunks.get(chunk)) is not None:
            return known
        with self._lock:
            if (known := self._chunks.get(chunk)) is None:
                known = self._chunks[chunk] = self._search(chunk)
        return known

    def _search(self, chunk: int) -> list[Secret]:
        if self._whole:
            return find_secrets(self.text)
        start = chunk * SCAN_CHUNK
        end = min(len(self.text), start + SCAN_CHUNK)
        lo, hi = _context(self.text, start, end)
        return [Secret(s.start + lo, s.end + lo, s.kind)
                for s in find_secrets(self.text[lo:hi]) if s.start + lo < end and
                s.end + lo > start]
