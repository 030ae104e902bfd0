"""What makes a name name a secret, and a value look like one (`redact.py` uses both; the
logs use `secret_name` too).

A false positive costs the model context it needed, so a value assigned to a secret-looking
name counts only when it looks random: long enough, high Shannon entropy, not a placeholder
("changeme", "${VAR}", "<your-key>"), not an expression, a path, a URL, a number or a run of
words. Values in fields that can only hold a password (`Password=…;` in a connection string,
`<password>` in XML, a `kind: Secret`'s data) need less: any literal that is not a
placeholder (`password_value`)."""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import pairwise

# Generic assignments: the value must be at least this long, and this random (bits per
# character; a random 12-character alphanumeric string scores about 3.4, English words and
# identifiers score lower and are filtered by other rules too).
MIN_VALUE_CHARS = 12
MIN_PASSWORD_CHARS = 8  # a name of the password family (`db_password`, `passphrase`)
MIN_ENTROPY = 3.0
MIN_PASSWORD_ENTROPY = 2.5
MIN_ENTROPY_LONG = 3.5  # for values of 24 characters and more


def entropy(value: str) -> float:
    """Shannon entropy of `value`, in bits per character."""
    if not value:
        return 0.0
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


_PLACEHOLDER_WORDS = re.compile(
    r"example|change_?-?me|placeholder|your|dummy|sample|fake|mock|redacted|todo|fixme|"
    r"secret|passw|token|key|"
    r"insert|replace|xxxx|\*\*\*|\.\.\.|<[^>]*>|\$\{|\$\(|\{\{|%\(\w+\)[sdr]|\{\d*\}|«|»|"
    r"%[-+ #0]?[0-9]*(?:\.[0-9]*)?[sdfrxXieg](?![A-Za-z])|"  # printf: "VS%0.fCOMNTOOLS" % v
    r"^\$[A-Za-z_]\w*$|%\w+%|#\w+#|^\[.*\]$|^\{.*\}$|"  # $VAR, %VAR%, #VAR#, [PAD], {x}
    r"a-z|0-9|^[A-Za-z_][\w.]*[\[(].*[\])]$",  # a regex, a call or a subscript
    re.IGNORECASE)
_CHUNKS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+|[^A-Za-z0-9]+")
_PHRASE = re.compile(r"[a-z]+(?:[-_. ][a-z]+)+|[A-Z]+(?:[-_. ][A-Z]+)+")
_HEX = re.compile(r"[0-9a-f]+|[0-9A-F]+")
MIN_ENTROPY_HEX = 3.0  # sixteen symbols: a random 32-digit hex key scores 3.4 to 3.9
_NUMBER = re.compile(r"[-+]?(?:0[xob])?[0-9a-fA-F_.]+(?:[eE][-+]?[0-9]+)?[jJlLuUfF]*")


def looks_random(value: str, *, min_chars: int = MIN_VALUE_CHARS,
                 min_entropy: float = MIN_ENTROPY) -> bool:
    """Whether a value assigned to a secret-looking name is worth redacting: long, random,
    and not a placeholder, a template, a path, a URL, a number or a run of words."""
    if len(value) < min_chars or _placeholder(value):
        return False
    if "://" in value or _path(value):
        return False
    if entropy(value) < (MIN_ENTROPY_HEX if _HEX.fullmatch(value) and len(value) >= 24 else
                         MIN_ENTROPY_LONG if len(value) >= 24 else min_entropy):
        return False
    if _NUMBER.fullmatch(value) and not any(c in "abcdefABCDEF" for c in value):
        return False  # a plain number (a port, a timestamp)
    if _PHRASE.fullmatch(value):
        return False  # words of one case between separators: "i-am-the-worst"
    return not _wordy(value)


def _path(value: str) -> bool:
    """A file path: starts like one, and its letters do not flip case at random (one base64
    key in 64 starts with `/`: "/82QeNpbITJFmTj8GjW4laNPQOZrMUJF6otTFVkT" is not a path)."""
    if not value.startswith(("/", "./", "../", "~/")):
        return False
    flips = sum(1 for a, b in pairwise(value) if a.isalpha() and b.isalpha() and
                a.isupper() != b.isupper())
    return flips <= len(value) // 8


def _placeholder(value: str) -> bool:
    """A placeholder word or template in it, written as words are (`your_api_key_here`,
    `YOUR-KEY`, `ChangeMe`): "KeY" inside a random string is chance, not a word."""
    for found in _PLACEHOLDER_WORDS.finditer(value):
        word = found.group()
        if not word.isalpha() or word.islower() or word.isupper() or word.istitle():
            return True
    return False


def looks_secret(name: str, value: str) -> bool:
    """`looks_random`, with the shorter and less random values a password-family name
    allows (people choose passwords; machines make keys)."""
    if password_name(name):
        return looks_random(value, min_chars=MIN_PASSWORD_CHARS,
                            min_entropy=MIN_PASSWORD_ENTROPY)
    return looks_random(value)


_TEMPLATE = re.compile(r"\$\{|\$\(|\{\{|%\w+%|^\$\w+$|^<.*>$|^\*+$|^x+$|^\.+$", re.IGNORECASE)
_PASSWORD_PLACEHOLDERS = re.compile(
    r"^(?:password|passwd|pass|pwd|secret|changeme|change_?me|example|placeholder|none|null|"
    r"nil|true|false|empty|redacted|todo|test|dummy|sample|admin)$|«|»", re.IGNORECASE)


def password_value(value: str) -> bool:
    """A literal in a field that holds nothing but a password or key: anything of a few
    characters that is not a placeholder, a template or a variable."""
    value = value.strip()
    return (len(value) >= 4 and not _TEMPLATE.search(value)
            and not _PASSWORD_PLACEHOLDERS.search(value) and len(set(value)) > 2)


def _wordy(value: str) -> bool:
    """Made of words (identifiers, prose, kebab or snake case, `X-Hub-Signature-256`) rather
    than random characters: its runs of letters are long and pronounceable. Random text breaks
    into short runs ("aZ3kP9qL" → a, Z, k, P, q, L) or unpronounceable ones ("k8fjw2nqpx")."""
    runs = [c for c in _CHUNKS.findall(value) if c[0].isalpha()]
    if not runs or sum(len(c) for c in runs) / len(runs) < 3:
        return False
    if sum(1 for c in runs if len(c) == 1) >= 2:
        return False  # case flipping at random: "lVZYAghdvwA9Ernh" → l, VZY, Aghdvw, A, Ernh
    if len(_DIGITS.findall(value)) >= 2 and not value.islower() and not value.isupper():
        return False  # digits here and there in mixed case: "Gpm885OULQ8DfuYno2"
    long_runs = [c for c in runs if len(c) >= 3]
    spoken = [c for c in long_runs if _pronounceable(c)]
    # Words cover most of the letters: "JIKVzwgrryd3icEG" has one short pronounceable run
    # ("JIK") beside a long random one.
    return len(spoken) >= 0.5 * len(long_runs) and \
        sum(map(len, spoken)) >= 0.5 * sum(map(len, runs))


_DIGITS = re.compile(r"[0-9]+")
_CONSONANTS = re.compile(r"[b-df-hj-np-tv-xz]{4}", re.IGNORECASE)


def _pronounceable(run: str) -> bool:
    """Vowels enough (words have about two in five letters, random letters one in five) and
    no four consonants in a row ("Hrcqiico", "jgve" are random, "strict" is not)."""
    vowels = sum(1 for c in run if c in "aeiouyAEIOUY")
    return vowels >= 0.3 * len(run) and _CONSONANTS.search(run) is None


# Names whose value is a secret: these words (snake_case, camelCase, kebab-case, dotted), words
# that contain one (`dbpassword`, `mysecret`, `authtoken`, `stripekey`), or these adjacent
# pairs. `tokenizer`, `secretary`, `keyboard` and `bypass` are other words.
_SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "passphrase", "pwd", "secret", "secrets", "token",
    "apikey", "apikeys", "credential", "credentials", "privatekey", "secretkey",
    "accesskey", "authkey", "clientsecret", "apitoken", "authtoken", "key",
})
_NOT_KEYS = frozenset({"monkey", "donkey", "turkey", "hockey", "jockey", "whiskey", "lackey",
                       "hotkey", "turnkey", "keys"})
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
    "sha", "md5", "hash", "digest", "checksum", "fingerprint", "thumbprint",
})
# A name with one of these anywhere holds a digest, not a secret (`expected_sha256_key`).
_HASH_WORDS = frozenset({"sha", "md5", "hash", "digest", "checksum", "fingerprint",
                         "thumbprint"})
_NAME_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def _name_words(name: str) -> list[str]:
    return [w.lower() for w in _NAME_WORDS.findall(name)]


def _secret_word(word: str) -> bool:
    if word in _SECRET_WORDS or "passw" in word or word.endswith("pwd"):
        return True
    if "secret" in word and not word.startswith("secretar"):
        return True
    if "token" in word and not word.startswith("tokeniz") and not word.endswith("tokens"):
        return True
    return word.endswith(("key", "keys")) and word not in _NOT_KEYS


def secret_name(name: str) -> bool:
    """Whether an identifier, key or environment variable names a secret value."""
    words = _name_words(name)
    named = [w for w in words if not w.isdigit()]  # `key_sha256`: what names it is `sha`
    if not named or named[-1] in _META_WORDS or "public" in words or \
            not _HASH_WORDS.isdisjoint(words):
        return False
    if any(_secret_word(w) for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


def password_name(name: str) -> bool:
    """A name of the password family: its value is chosen by a person."""
    return secret_name(name) and any(
        "passw" in w or w.endswith("pwd") or w == "passphrase" for w in _name_words(name))
