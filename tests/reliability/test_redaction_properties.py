"""The property behind "nothing secret leaves the machine", for the secrets written inside
allowed files: for random files with a secret planted anywhere, in any format the redactor
knows, no section of any prompt holds any part of it — whatever the window boundaries, the
budget, the cursor (inside the secret too) and whichever evidence source cuts the window.

The real `ContextEngine.window` on a real workspace on disk: the planted file is the cursor's
document, another open document, a file on disk next to the cursor's (the `similar` source's
neighbour, imported so its definitions are read), with recent edits inside the secret (the
`recent` source), and a key shared by the cursor's file and its test's (the `similar` windows
over both). `SECRET_SHAPES` is the catalogue the end-to-end tests plant too."""

from __future__ import annotations

import base64
import random
import string
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskmate.context.budget import count_tokens
from deskmate.context.documents import OpenDocument
from deskmate.context.engine import ContextEngine, SelectionTooLarge
from deskmate.context.redact import PLACEHOLDER, looks_random

ALNUM = string.ascii_letters + string.digits
BASE64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
AGE = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def fake(rng: random.Random, alphabet: str, size: int) -> str:
    """Random characters with upper case, lower case and digits all in (when the alphabet
    has them), as in real keys, that the redactor judges random (`looks_random`: about one
    random 16-character string in 150 reads as a word to it; how often is the unit tests'
    business, whether a value it judges secret can reach a prompt is this file's). Made at
    run time: no key-shaped literal in the repository."""
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(size))
        wanted = [set(string.ascii_uppercase), set(string.ascii_lowercase), set(string.digits)]
        if all(not (w & set(alphabet)) or w & set(value) for w in wanted) and \
                looks_random(value, min_chars=1):
            return value


def pem_body(rng: random.Random, lines: int = 50) -> list[str]:
    """The base64 lines of a key as long as a 4096-bit RSA key's."""
    return [fake(rng, BASE64, 64) for _ in range(lines - 1)] + [fake(rng, BASE64, 40) + "=="]


@dataclass(frozen=True)
class Planted:
    """A block of text holding a secret, and the parts of the secret (each a contiguous
    string of the block) of which no piece may reach a prompt."""

    block: str
    parts: tuple[str, ...]

    def joined(self, more: str) -> Planted:
        """The same secret, `more` added to its (one) part."""
        [part] = self.parts
        return Planted(self.block.replace(part, part + more), (part + more,))


Shape = Callable[[random.Random], Planted]


def _pem(kind: str, wrap: Callable[[list[str]], str]) -> Shape:
    def make(rng: random.Random) -> Planted:
        body = pem_body(rng)
        lines = [f"-----BEGIN {kind}PRIVATE KEY-----", *body, f"-----END {kind}PRIVATE KEY-----"]
        return Planted(wrap(lines), tuple(body))
    return make


def _base64_pem(rng: random.Random) -> Planted:
    body = pem_body(rng, 20)
    pem = ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body)
           + "\n-----END RSA PRIVATE KEY-----\n")
    encoded = base64.b64encode(pem.encode()).decode()
    wrapped = [encoded[i:i + 76] for i in range(0, len(encoded), 76)]
    # Every full line but the last (it encodes the END marker, no key material).
    return Planted("tls_key: |\n  " + "\n  ".join(wrapped) + "\n", tuple(wrapped[:-1]))


def _value(template: str, alphabet: str = ALNUM, size: int = 24, prefix: str = "") -> Shape:
    def make(rng: random.Random) -> Planted:
        value = prefix + fake(rng, alphabet, size)
        return Planted(template.format(value), (value,))
    return make


def _split(template: str) -> Shape:
    def make(rng: random.Random) -> Planted:
        value = fake(rng, ALNUM, 24)
        return Planted(template.format(value[:12], value[12:]), (value[:12], value[12:]))
    return make


def _age(rng: random.Random) -> Planted:
    value = "AGE-SECRET-KEY-1" + "".join(rng.choice(AGE) for _ in range(58))
    return Planted(f"# created: 2024-06-01\n# public key: age1xyz\n{value}\n", (value,))


SECRET_SHAPES: dict[str, Shape] = {
    "pem-python-string": _pem("RSA ", lambda ls: 'KEY = """' + "\n".join(ls) + '\n"""\n'),
    "pem-openssh-bare": _pem("OPENSSH ", lambda ls: "\n".join(ls) + "\n"),
    "pem-pkcs8-yaml": _pem("", lambda ls: "tls:\n  key: |\n    " + "\n    ".join(ls) + "\n"),
    "pem-ec-json": _pem("EC ", lambda ls: '{"private_key": "' + "\\n".join(ls) + '\\n"}\n'),
    "pem-concatenated": _pem("RSA ", lambda ls: 'KEY = (\n' + "".join(
        f'    "{line}\\n"\n' for line in ls) + ")\n"),
    "pem-java-plus": _pem("", lambda ls: 'String key = "' + '\\n" +\n    "'.join(ls) + '";\n'),
    "pem-docstring": _pem("RSA ", lambda ls: 'def load_key():\n    """Test key:\n\n    '
                          + "\n    ".join(ls) + '\n    """\n    return 1\n'),
    "pem-base64": _base64_pem,
    "github": _value("GITHUB = '{}'\n", size=36, prefix="ghp_"),
    "github-comment": _value("# token for CI: {} (rotate monthly)\n", size=36, prefix="gho_"),
    "openai": _value("client = OpenAI(api_key=\"{}\")\n", URLSAFE, 64, "sk-proj-"),
    "anthropic": _value("ANTHROPIC_API_KEY={}\n", URLSAFE, 90, "sk-ant-api03-"),
    "stripe": _value("stripe.api_key = '{}'\n", size=24, prefix="sk_live_"),
    "npm": _value("//registry.npmjs.org/:_authToken={}\n", size=36, prefix="npm_"),
    "huggingface": _value("login(token='{}')\n", string.ascii_letters, 34, "hf_"),
    "vault": _value("export VAULT_TOKEN={}\n", URLSAFE, 90, "hvs."),
    "age": _age,
    "sendgrid": lambda rng: _value("SENDGRID = 'SG.{}'\n", URLSAFE, 22)(rng).joined(
        "." + fake(rng, URLSAFE, 43)),
    "password-ini": _value("[database]\nhost = db\npassword = {}\n", size=18),
    "password-properties": _value("spring.datasource.password={}\n", size=18),
    "wireguard": _value("[Interface]\nPrivateKey = {}=\nListenPort = 51820\n", BASE64, 43),
    "xml-element": _value("<server>\n  <id>prod</id>\n  <password>{}</password>\n</server>\n",
                          size=16),
    "xml-attributes": _value('<add key="DbPassword" value="{}" />\n', size=16),
    "php-define": _value("define('DB_PASSWORD', '{}');\n", size=16),
    "connection-string": _value('conn = "Server=db;Database=app;User Id=sa;Password={};"\n',
                                size=14),
    "azure-storage": _value('AZ = "DefaultEndpointsProtocol=https;AccountName=acct;'
                            'AccountKey={}==;EndpointSuffix=core.windows.net"\n', BASE64, 86),
    "yaml-password": _value("database:\n  user: app\n  password: {}\n", size=20),
    "dotenv": _value("DATABASE_PASSWORD={}\n", size=20),
    "name-contains-secret": _value('dbPasswordMain = "{}"\n', size=20),
    "secrets-block": _value("secrets:\n  ci: {}\n  deploy: none\n", size=24),
    "tokens-mapping": _value('API_TOKENS = {{"ci": "{}", "label": "ci"}}\n', size=24),
    "url-query": _value('URL = "https://api.example.com/v1/items?api_key={}&page=2"\n', size=24),
    "url-password": _value('DSN = "postgres://app:{}@db:5432/app"\n', size=20),
    "split-plus": _split('password = "{}" + "{}"\n'),
    "split-adjacent": _split("SECRET_KEY = ('{}'\n              '{}')\n"),
    "k8s-secret": _value("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n"
                         "  password: {}\n", BASE64, 24),
    "jwk": _value('{{"kty": "RSA", "e": "AQAB", "d": "{}"}}\n', URLSAFE, 86),
}


def pieces(part: str) -> list[str]:
    """What may not appear of a secret's part: all of it when short, else every 16
    characters at a stride of 8 (so any 24 characters of it, wherever a window cut it)."""
    if len(part) <= 24:
        return [part]
    return [part[i:i + 16] for i in range(0, len(part) - 15, 8)]


def leaks(prompt: str, planted: Planted) -> list[str]:
    return [piece for part in planted.parts for piece in pieces(part) if piece in prompt]


# --------------------------------------------------------------------------- host files

# Lines of ordinary code sharing names, so that retrieval finds the planted file's windows
# similar to the cursor's, and its definitions used.
HOST_LINES = [
    "import os\n", "from config import load_key, parse_settings, KeyStore\n",
    "def load_key(name):\n    value = parse_settings(name)\n    return value\n",
    "def parse_settings(path):\n    with open(path) as handle:\n        return handle.read()\n",
    "class KeyStore:\n    def get(self, name):\n        return load_key(name)\n",
    "settings = parse_settings('app.toml')\n", "store = KeyStore()\n",
    "result = store.get('primary')\n", "# the key is loaded once at start-up\n",
    "def rotate(store):\n    return store.get('next')\n", "TIMEOUT = 30\n",
]


def host(rng: random.Random, lines: int) -> list[str]:
    return [rng.choice(HOST_LINES) for _ in range(lines)]


def planted_file(rng: random.Random, planted: Planted, lines: int) -> str:
    body = host(rng, lines)
    at = rng.randrange(len(body) + 1)
    return "".join(body[:at]) + planted.block + "".join(body[at:])


def lines_inside(text: str, planted: Planted) -> list[int]:
    """1-based line numbers of the planted secret's lines in `text`."""
    start = text.index(planted.block)
    first = text.count("\n", 0, start) + 1
    return list(range(first, first + planted.block.count("\n") + 1))


def make_engine(root: Path, files: dict[str, str]) -> ContextEngine:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    engine = ContextEngine(root, use_cache=False)
    engine.build_index()
    return engine


def check(engine: ContextEngine, planted: Planted, *, path: str, text: str, offset: int,
          budget: int, end: int | None = None,
          open_documents: dict[str, OpenDocument | str] | None = None) -> None:
    window = engine.window(path=path, text=text, offset=offset, budget=budget, end=end,
                           open_documents=open_documents)
    assert not leaks(window.prompt, planted), (path, budget, offset, window.prompt)
    for snippet in window.snippets:
        assert not leaks(snippet.text, planted)
    assert count_tokens(window.prompt) <= window.tokens <= budget


SHAPES = st.sampled_from(sorted(SECRET_SHAPES))
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
BUDGETS = st.lists(st.sampled_from([48, 128, 400, 1500, 6000, 15360]), min_size=1, max_size=3,
                   unique=True)
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(shape=SHAPES, seed=SEEDS, budgets=BUDGETS, where=st.floats(0, 1),
       selection=st.one_of(st.none(), st.integers(1, 400)), edited=st.booleans())
def test_the_cursors_document(shape: str, seed: int, budgets: list[int], where: float,
                              selection: int | None, edited: bool) -> None:
    """The planted file is the cursor's: the cursor (or a selection) anywhere, inside the
    secret too; an edit inside the secret far from the cursor (`recent`)."""
    rng = random.Random(seed)
    planted = SECRET_SHAPES[shape](rng)
    text = planted_file(rng, planted, rng.randrange(0, 80))
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(Path(folder), {"app/main.py": text})
        if edited:
            engine.note_edit("app/main.py", rng.choice(lines_inside(text, planted)))
        offset = int(len(text) * where)
        end = None if selection is None else min(len(text), offset + selection)
        for budget in budgets:
            try:
                check(engine, planted, path="app/main.py", text=text, offset=offset,
                      budget=budget, end=end)
            except SelectionTooLarge:  # a selection over budget has no window at all
                continue


@SETTINGS
@given(shape=SHAPES, seed=SEEDS, budgets=BUDGETS, role=st.sampled_from(["open", "disk"]),
       edited=st.booleans())
def test_another_document(shape: str, seed: int, budgets: list[int], role: str,
                          edited: bool) -> None:
    """The planted file is another open document or a file on disk next to the cursor's
    (imported by it, alike in name): `open`, `similar`, `definitions` and `recent` windows
    cut from it, wherever their edges fall."""
    rng = random.Random(seed)
    planted = SECRET_SHAPES[shape](rng)
    other = planted_file(rng, planted, rng.randrange(0, 60))
    cursor = "from app.config import load_key, KeyStore\n" + "".join(host(rng, 30)) + \
        "value = load_key(store.get('primary'))\n"
    with tempfile.TemporaryDirectory() as folder:
        files = {"app/main.py": cursor, "app/config.py": other if role == "disk" else "x = 1\n"}
        engine = make_engine(Path(folder), files)
        documents: dict[str, OpenDocument | str] = {}
        if role == "open":
            documents["app/config.py"] = OpenDocument(other, version=3)
        if edited:
            engine.note_edit("app/config.py", rng.choice(lines_inside(other, planted)))
        for budget in budgets:
            check(engine, planted, path="app/main.py", text=cursor, offset=len(cursor) - 2,
                  budget=budget, open_documents=documents)


@SETTINGS
@given(shape=st.sampled_from(sorted(s for s in SECRET_SHAPES if s.startswith("pem"))),
       seed=SEEDS, budgets=BUDGETS, where=st.floats(0, 1))
def test_a_key_shared_by_two_files(shape: str, seed: int, budgets: list[int],
                                   where: float) -> None:
    """A test and the module it tests hold the same key: the cursor in one, near the key or
    inside it, makes the other's key lines the most similar windows there are."""
    rng = random.Random(seed)
    planted = SECRET_SHAPES[shape](rng)
    first = planted_file(rng, planted, rng.randrange(0, 30))
    second = planted_file(rng, planted, rng.randrange(0, 30))
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(Path(folder), {"tests/test_keys.py": first,
                                            "tests/test_keys_more.py": second})
        start = first.index(planted.block)
        offset = start + int(len(planted.block) * where)
        for budget in budgets:
            check(engine, planted, path="tests/test_keys.py", text=first, offset=offset,
                  budget=budget)


def test_the_redacted_windows_are_sent_not_dropped() -> None:
    """The control: the windows around a secret are still sent, with the placeholder where
    the secret was — what the properties above check is redaction, not an empty prompt."""
    rng = random.Random(5)
    planted = SECRET_SHAPES["pem-python-string"](rng)
    other = "".join(host(rng, 10)) + planted.block + "".join(host(rng, 10))
    cursor = "from app.config import load_key\n" + "".join(host(rng, 20))
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(Path(folder), {"app/main.py": cursor, "app/config.py": other})
        engine.note_edit("app/config.py", lines_inside(other, planted)[25])
        window = engine.window(path="app/main.py", text=cursor, offset=len(cursor),
                               budget=15360)

    recent = [s for s in window.snippets if s.kind == "recent"]
    assert recent, window.sections
    assert all(PLACEHOLDER in s.text for s in recent)
    assert window.redactions >= 1
    assert not leaks(window.prompt, planted)
