"""Secret redaction: what must never reach a model, replaced by PLACEHOLDER in every prompt
section before it is sent. (Whole files that must never be read — secret files, ignored and
binary files — are kept out earlier, by the exclusion rules in `privacy.py`; this catches the
secrets written inside ordinary files.)

Only high-confidence patterns count, because a false positive costs the model context it
needed: provider tokens whose shape is their own (AWS, GitHub, GitLab, Slack, OpenAI,
Anthropic, Stripe, Google), private-key blocks, JWTs, credentials in URLs and `Bearer` headers,
and values assigned to a secret-looking name (`password = "…"`, `"api_key": "…"`,
`SECRET_KEY=…`) when the value looks random (long enough, high Shannon entropy, not a
placeholder such as "changeme", "${VAR}" or "<your-key>", not an expression).

Only the secret is replaced: names, quotes and the code around it stay, so the model still sees
`password = "«redacted»"`. Every kind matches at least len(PLACEHOLDER) characters, so
redaction never makes a text longer, and it is idempotent."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

# Four cl100k tokens; guillemets are syntax in no common programming language, so the model
# reads it as "something was removed here", not as code to imitate, and a completion that
# contains it can be recognized (and cut) without touching ordinary code.
PLACEHOLDER = "«redacted»"

# A secret cut by the edge of a prompt section is still recognized from the text around it:
# this much text on each side is searched too (a 4096-bit RSA key in PEM is about 3.3 kB).
CONTEXT_CHARS = 16_384
_LONG_LINE = 1024

# Generic assignments: the value must be at least this long, and this random (bits per
# character; a random 12-character alphanumeric string scores about 3.4, English words and
# identifiers score lower and are filtered by other rules too).
MIN_VALUE_CHARS = 12
MIN_ENTROPY = 3.0
MIN_ENTROPY_LONG = 3.5  # for values of 24 characters and more


@dataclass(frozen=True, slots=True)
class Secret:
    start: int
    end: int
    kind: str


# --------------------------------------------------------------------------- value checks


def entropy(value: str) -> float:
    """Shannon entropy of `value`, in bits per character."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


_PLACEHOLDER_WORDS = re.compile(
    r"example|change_?-?me|placeholder|your|dummy|sample|fake|mock|redacted|todo|fixme|"
    r"secret|passw|token|key|"
    r"insert|replace|xxxx|\*\*\*|\.\.\.|<[^>]*>|\$\{|\{\{|%\(\w+\)[sdr]|\{\d*\}|«|»|"
    r"^\$[A-Za-z_]\w*$|^%\w+%$|^\[.*\]$|^\{.*\}$|"  # $VAR, %VAR%, [PAD], {name}
    r"a-z|0-9|^[A-Za-z_][\w.]*[\[(].*[\])]$",  # a regex, a call or a subscript
    re.IGNORECASE)
_CHUNKS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+|[^A-Za-z0-9]+")
_PHRASE = re.compile(r"[a-z]+(?:[-_. ][a-z]+)*|[A-Z]+(?:[-_. ][A-Z]+)*")
_NUMBER = re.compile(r"[-+]?(?:0[xob])?[0-9a-fA-F_.]+(?:[eE][-+]?[0-9]+)?[jJlLuUfF]*")


def looks_random(value: str, *, min_chars: int = MIN_VALUE_CHARS) -> bool:
    """Whether a value assigned to a secret-looking name is worth redacting: long, random,
    and not a placeholder, a template, a path, a URL, a number or a run of words."""
    if len(value) < min_chars or _PLACEHOLDER_WORDS.search(value):
        return False
    if "://" in value or value.startswith(("/", "./", "../", "~/")):
        return False
    if entropy(value) < (MIN_ENTROPY_LONG if len(value) >= 24 else MIN_ENTROPY):
        return False
    if _NUMBER.fullmatch(value) and not any(c in "abcdefABCDEF" for c in value):
        return False  # a plain number (a port, a timestamp)
    if _PHRASE.fullmatch(value):
        return False  # words of one case between separators: "i-am-the-worst"
    return not _wordy(value)


def _wordy(value: str) -> bool:
    """Made of words (identifiers, prose, kebab or snake case, `X-Hub-Signature-256`) rather
    than random characters: its runs of letters are long and pronounceable. Random text breaks
    into short runs ("aZ3kP9qL" → a, Z, k, P, q, L) or unpronounceable ones ("k8fjw2nqpx")."""
    runs = [c for c in _CHUNKS.findall(value) if c[0].isalpha()]
    if not runs or sum(len(c) for c in runs) / len(runs) < 3:
        return False
    long_runs = [c for c in runs if len(c) >= 3]
    spoken = sum(1 for c in long_runs if any(v in c for v in "aeiouyAEIOUY"))
    return spoken >= 0.5 * len(long_runs)


# Names whose value is a secret: these words (snake_case, camelCase, kebab-case, dotted) or
# these adjacent pairs. `tokenizer`, `secretary` and `passthrough` are other words.
_SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "passphrase", "pwd", "secret", "secrets", "token",
    "apikey", "apikeys", "credential", "credentials", "privatekey", "secretkey",
    "accesskey", "authkey", "clientsecret", "apitoken", "authtoken",
})
_SECRET_PAIRS = frozenset({
    ("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key"), ("secret", "key"),
    ("signing", "key"), ("encryption", "key"), ("master", "key"), ("session", "key"),
    ("client", "secret"), ("api", "token"),
})
# ...unless the name says the value is about the secret rather than the secret itself.
_META_WORDS = frozenset({
    "name", "names", "type", "types", "field", "fields", "url", "urls", "uri", "path", "paths",
    "file", "filename", "files", "dir", "header", "headers", "prefix", "suffix", "length",
    "len", "size", "env", "var", "format", "fmt", "pattern", "regex", "re", "algorithm", "algo",
    "label", "class", "kind", "mode", "policy", "endpoint", "scope", "scopes", "expiry",
    "expires", "expiration", "ttl", "timeout", "count", "limit", "max", "min", "char", "chars",
    "validator", "validators", "hasher", "hashers", "backend", "backends", "store", "cache",
    "storage", "provider", "source", "param", "params", "attr", "attribute", "column",
    "message", "msg", "error", "errors", "help", "text", "prompt", "description", "title",
    "placeholder", "id", "ids", "index", "idx", "key_id", "location", "method", "methods",
    "version", "reset", "required", "enabled", "ref", "arn", "hint", "mask", "regexp",
    "template", "separator", "sep", "delimiter", "encoding", "charset", "module", "prop",
})
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def secret_name(name: str) -> bool:
    """Whether an identifier, key or environment variable names a secret value."""
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    if not words or words[-1] in _META_WORDS or "public" in words:
        return False
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


# --------------------------------------------------------------------------- patterns


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: str | int = 0  # the part replaced; names and quotes around it stay
    check: Callable[[str], bool] | None = None


_TOKEN_CHARS = "A-Za-z0-9_+-"  # token characters ("/" and "=" end URL parts)
_E = r"(?![A-Za-z0-9_-])"  # no token character just after


def _token(literal: str, rest: str, *, before: str = _TOKEN_CHARS) -> re.Pattern[str]:
    """A pattern starting with `literal` (so the regex engine searches for it quickly) that no
    character of `before` precedes."""
    lit = re.escape(literal)
    return re.compile(f"{lit}(?<![{before}]{lit}){rest}")


_TOKEN_RULES = (
    _Rule("aws_access_key_id", _token("AKIA", r"[A-Z0-9]{16}(?![A-Z0-9])")),
    _Rule("aws_access_key_id", _token("ASIA", r"[A-Z0-9]{16}(?![A-Z0-9])")),
    _Rule("github_token", _token("gh", r"[pousr]_[A-Za-z0-9]{36,251}" + _E)),
    _Rule("github_token", _token("github_pat_", r"[A-Za-z0-9_]{40,251}" + _E)),
    _Rule("gitlab_token", _token("gl", r"(?:pat|dt|rt|ptt|soat)-[A-Za-z0-9_-]{20,}" + _E)),
    _Rule("slack_token", _token("xox", r"[abeoprs]-(?:[0-9]+-)*[A-Za-z0-9]{8,}"
                                       r"(?:-[A-Za-z0-9]+)*" + _E)),
    _Rule("slack_webhook", re.compile(
        r"hooks\.slack\.com/(?:services|workflows)/(?P<path>[A-Za-z0-9_/-]{20,})"),
        group="path"),
    _Rule("anthropic_key", _token("sk-ant-", r"[A-Za-z0-9_-]{32,}" + _E)),
    _Rule("openai_key", _token("sk-", r"(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}" + _E),
          check=lambda v: v.startswith("sk-ant-") or _mixed(v[3:])),
    _Rule("stripe_key", _token("sk_live_", r"[A-Za-z0-9]{20,}" + _E)),
    _Rule("stripe_key", _token("rk_live_", r"[A-Za-z0-9]{20,}" + _E)),
    _Rule("google_api_key", _token("AIza", r"[A-Za-z0-9_-]{35}" + _E)),
    _Rule("jwt", _token("eyJ", r"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"
                        + _E)),
    *(_Rule("bearer_token", _token(word, r"[ \t]+(?P<value>[A-Za-z0-9._~+/-]{16,}=*)"
                                         r"(?![A-Za-z0-9._~+/=-])", before="A-Za-z0-9_"),
            group="value", check=looks_random)
      for word in ("Bearer", "Basic", "Token")),
    _Rule("url_password", re.compile(
        r"://[^\s:/@\"'`]{1,64}:(?P<value>[^\s:/@\"'`]{10,128})@"),
        group="value", check=lambda v: looks_random(v, min_chars=10)),
)


def _mixed(value: str) -> bool:
    """Random provider keys mix upper case, lower case and digits."""
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value) and \
        any(c.islower() for c in value)


# Every secret-looking name contains one of these (lower-cased); only names around them are
# parsed as assignments.
_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "credential")
_NAME_CHARS = frozenset("_.$-@")
MAX_NAME_CHARS = 128
_MAX_ASSIGNMENT_CHARS = 1024
_ASSIGNMENT = re.compile(r"""
    (?P<name>[A-Za-z_$@][\w.$-]{0,127}+)
    (?P<kq>["'`]?)\]?                                   # "api_key": / config["api_key"] =
    (?:[ \t]*:[ \t]*[A-Za-z_][\w.\[\], |]{0,40}?(?=[ \t]*=))?   # password: str = "..."
    (?P<ws>[ \t]*)(?P<op>=>|:=|[=!]=|=|:)[ \t]*
    (?:
        [rRbBuU]{0,2}(?P<vq>["'`])(?P<quoted>(?:(?!(?P=vq))[^\s\\«»]){12,512})(?:(?P=vq)|(?=\s*$))
      | (?P<bare>[^\s"'`{}<>«»]{12,512})(?=[ \t\r]*$|[ \t]+\#)  # to the line's end
    )
""", re.VERBOSE | re.MULTILINE)
_ENV_LINE_START = re.compile(r"(?:export[ \t]+)?$")  # NAME=value, first on its line
_YAML_LINE_START = re.compile(r"[ \t]*(?:-[ \t]+)?$")  # name: value, maybe indented
_AWS_SECRET_NAME = re.compile(r"(?i)aws.{0,24}secret|secret.?access.?key")
_AWS_SECRET_VALUE = re.compile(r"[A-Za-z0-9/+]{40}")

_PRIVATE_KEY_MARKER = re.compile(
    r"-----(?P<which>BEGIN|END)[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")
# What may sit between the markers of a key block: base64 lines, PEM headers ("Proc-Type:
# 4,ENCRYPTED"), and the quotes, escapes and indentation of a key pasted into a string.
_PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s\\\"'`,:.]|-(?!----))*+")
_PEM_BODY_BACKWARD = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n\\\"'`,:.-")
_PEM_EDGE = frozenset(" \t\r\n\"'`,")
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{32}")


# --------------------------------------------------------------------------- finding


def find_secrets(text: str) -> list[Secret]:
    """Every secret in `text`, in order, overlapping finds merged."""
    found: list[Secret] = []
    for rule in _TOKEN_RULES:
        for match in rule.pattern.finditer(text):
            value = match.group(rule.group)
            if rule.check is None or rule.check(value):
                found.append(Secret(match.start(rule.group), match.end(rule.group), rule.kind))
    found.extend(_assignments(text))
    if "PRIVATE KEY" in text:
        found.extend(_private_keys(text))
    return _merge(found)


def _assignments(text: str) -> Iterator[Secret]:
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case to two; keep offsets exact
        lowered = "".join(c.lower()[0] for c in text)
    starts: set[int] = set()
    for keyword in _KEYWORDS:
        at = lowered.find(keyword)
        while at >= 0:
            start, limit = at, max(0, at - MAX_NAME_CHARS)
            while start > limit and (text[start - 1].isalnum() or text[start - 1] in _NAME_CHARS):
                start -= 1
            while start < at and text[start] in ".-":
                start += 1  # `--password=`, `.token`: the name starts after them
            starts.add(start)
            at = lowered.find(keyword, at + len(keyword))
    for start in sorted(starts):
        # Bounded reads around each name: a 5 MB line full of "key" stays linear.
        window_end = text.find("\n", start, start + _MAX_ASSIGNMENT_CHARS)
        window_end = min(len(text), start + _MAX_ASSIGNMENT_CHARS) if window_end < 0 \
            else window_end
        match = _ASSIGNMENT.match(text, start, window_end)
        if match is not None and (secret := _assigned_secret(text, match)):
            yield secret


def _assigned_secret(text: str, match: re.Match[str]) -> Secret | None:
    name, quoted = match.group("name"), match.group("quoted")
    group = "quoted" if quoted is not None else "bare"
    value = match.group(group)
    if _AWS_SECRET_NAME.search(name) and _AWS_SECRET_VALUE.fullmatch(value):
        return Secret(match.start(group), match.end(group), "aws_secret_access_key")
    if not secret_name(name):
        return None
    if quoted is None:
        # An unquoted value is only a literal in .env and YAML-like lines: `NAME=value` at the
        # start of a line, or `name: value` first on its line (in code, `x = y` and an
        # indented keyword argument `x=y,` are expressions).
        op = match.group("op")
        if op == "=" and not match.group("ws"):
            before = _ENV_LINE_START
        elif op == ":":
            before = _YAML_LINE_START
        else:
            return None
        line_start = text.rfind("\n", max(0, match.start() - 64), match.start()) + 1
        if (line_start == 0 and match.start() > 64) or value.endswith((",", ";")) or \
                not before.match(text, line_start, match.start()):
            return None
    if not looks_random(value):
        return None
    return Secret(match.start(group), match.end(group), "assignment")


def _private_keys(text: str) -> Iterator[Secret]:
    """Key blocks, whole; a block cut by the edge of the text (a marker missing) is redacted
    from the marker it has to the end of its key material."""
    markers = list(_PRIVATE_KEY_MARKER.finditer(text))
    closed: set[int] = set()  # END markers that ended a block found from its BEGIN
    for index, marker in enumerate(markers):
        if marker.group("which") == "BEGIN":
            body = _PEM_BODY.match(text, marker.end())
            assert body is not None  # the pattern matches the empty string
            after = markers[index + 1] if index + 1 < len(markers) else None
            if after is not None and after.group("which") == "END" and \
                    after.start() == body.end():
                end = after.end()
                closed.add(index + 1)
            else:
                end = body.end()
                while end > marker.end() and text[end - 1] in _PEM_EDGE:
                    end -= 1  # leave the closing quote and line break of a cut block
            if _KEY_MATERIAL.search(text, marker.end(), end):
                yield Secret(marker.start(), end, "private_key")
        elif index not in closed:
            # An END whose BEGIN is not in the text (it starts inside the block), or whose
            # block had something unexpected in it: its key material, backwards.
            start = marker.start()
            limit = max(0, start - CONTEXT_CHARS)
            while start > limit and text[start - 1] in _PEM_BODY_BACKWARD:
                start -= 1
            while start < marker.start() and text[start] in _PEM_EDGE:
                start += 1
            if _KEY_MATERIAL.search(text, start, marker.start()):
                yield Secret(start, marker.end(), "private_key")


def _merge(found: list[Secret]) -> list[Secret]:
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
        text = _replace(text, secrets, 0, len(text))
        total += len(secrets)
    return text, total


def redact_around(text: str, start: int, cursor: int, end: int) -> tuple[str, str, int]:
    """`text[start:cursor]` and `text[cursor:end]` (a prompt's prefix and suffix), redacted
    separately so the cursor stays between them, with the secrets found in the text around
    them: a secret cut by the cursor or by the edge of the window is still recognized, and
    each part of it is replaced. The count is of secrets touched."""
    # The context starts and ends at line breaks, unless a line is too long to read whole.
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    line_start = text.rfind("\n", max(0, lo - _LONG_LINE), lo)
    lo = max(0, lo - _LONG_LINE) if line_start < 0 else line_start + 1
    line_end = text.find("\n", hi, hi + _LONG_LINE)
    hi = min(len(text), hi + _LONG_LINE) if line_end < 0 else line_end
    context = text[lo:hi]
    touched = [Secret(s.start + lo, s.end + lo, s.kind) for s in find_secrets(context)
               if s.start + lo < end and s.end + lo > start]
    return (_replace(text, touched, start, cursor), _replace(text, touched, cursor, end),
            len(touched))


def _replace(text: str, secrets: list[Secret], start: int, end: int) -> str:
    """`text[start:end]` with the part of each secret inside it replaced by PLACEHOLDER."""
    pieces: list[str] = []
    position = start
    for secret in secrets:
        s, e = max(secret.start, start), min(secret.end, end)
        if s >= e:
            continue
        pieces.append(text[position:s])
        pieces.append(PLACEHOLDER)
        position = e
    pieces.append(text[position:end])
    return "".join(pieces)
