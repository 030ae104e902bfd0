"""Secret redaction: each kind of secret replaced, the code around it kept, no false positives
on ordinary code, and the packer and the post-processor using it."""

from __future__ import annotations

import random
import string
import sysconfig
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskmate.context.budget import count_tokens
from deskmate.context.pack import pack_context
from deskmate.context.redact import (
    PLACEHOLDER,
    entropy,
    find_secrets,
    looks_random,
    redact,
    redact_around,
    secret_name,
)
from deskmate.context.retrieve import Candidate
from deskmate.server.jobs.context_report import context_report
from deskmate.server.jobs.postprocess import KeepGoing, Surroundings, clean

# Fake secrets with the real shapes, made at run time (no key-shaped literal in the repository
# for a push-protection scanner to trip on). Seeded: the same on every run.
_RNG = random.Random(20240611)
UPPER_DIGITS = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
BASE64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def fake(alphabet: str, size: int, prefix: str = "") -> str:
    """Random characters until upper case, lower case and digits all appear (when the
    alphabet has them), as in real keys."""
    while True:
        body = "".join(_RNG.choice(alphabet) for _ in range(size))
        wanted = [set(string.ascii_uppercase), set(string.ascii_lowercase), set(string.digits)]
        if all(not (w & set(alphabet)) or w & set(body) for w in wanted):
            return prefix + body


AWS_KEY_ID = fake(UPPER_DIGITS, 16, "AKIA")
AWS_SESSION_KEY_ID = fake(UPPER_DIGITS, 16, "ASIA")
AWS_SECRET = fake(BASE64, 40)
GITHUB_PAT = fake(ALNUM, 36, "ghp_")
GITHUB_OAUTH = fake(ALNUM, 36, "gho_")
GITHUB_APP = fake(ALNUM, 36, "ghs_")
GITHUB_FINE = "github_pat_" + fake(ALNUM, 22) + "_" + fake(ALNUM, 59)
GITLAB = fake(URLSAFE, 20, "glpat-")
SLACK_BOT = f"xoxb-{_RNG.randrange(10**11, 10**12)}-{_RNG.randrange(10**12, 10**13)}-" \
    + fake(ALNUM, 24)
SLACK_HOOK_PATH = f"T{fake(UPPER_DIGITS, 8)}/B{fake(UPPER_DIGITS, 10)}/{fake(ALNUM, 24)}"
OPENAI_LEGACY = fake(ALNUM, 48, "sk-")
OPENAI_PROJECT = fake(URLSAFE, 156, "sk-proj-")
ANTHROPIC = fake(URLSAFE, 93, "sk-ant-api03-") + "AA"
STRIPE_LIVE = fake(ALNUM, 24, "sk_live_")
GOOGLE = fake(URLSAFE, 35, "AIza")
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "eyJ" + fake(URLSAFE, 60) + "." \
    + fake(URLSAFE, 43)
PASSWORD = "Zx8#kLm2Qp9vRt!w"
HEX_KEY = fake("0123456789abcdef", 32)
DJANGO_KEY = "django-insecure-" + fake(ALNUM + "!@#%^&*(-_=+)", 50)
BEARER = fake(URLSAFE, 40)
DB_PASSWORD = fake(ALNUM, 16)


def pem(kind: str = "RSA ") -> str:
    lines = [fake(BASE64, 64) for _ in range(12)] + [fake(BASE64, 20) + "=="]
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + \
        f"\n-----END {kind}PRIVATE KEY-----"


PEM = pem()
PEM_PKCS8 = pem("")
PEM_OPENSSH = pem("OPENSSH ")
PEM_ENCRYPTED = pem().replace(
    "-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,"
    + fake("0123456789ABCDEF", 32) + "\n\n", 1)
PGP = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
       + "\n".join(fake(BASE64, 64) for _ in range(8)) + "\n=" + fake(BASE64, 4)
       + "\n-----END PGP PRIVATE KEY BLOCK-----")

def placed(secret: str) -> str:
    """What redaction leaves of a secret: the placeholder on each of its lines (after the
    indentation of those it does not start on), so every line keeps its number."""
    lines = secret.split("\n")
    return "\n".join([PLACEHOLDER] + [
        line[:len(line) - len(line.lstrip(" \t"))] + PLACEHOLDER if line.strip() else line
        for line in lines[1:]])


# (kind, the text around the secret with {} where it stands, the secret)
CASES = [
    ("aws_access_key_id", 'aws_access_key_id = "{}"\n', AWS_KEY_ID),
    ("aws_access_key_id", "AWS_ACCESS_KEY_ID={}\n", AWS_SESSION_KEY_ID),
    ("aws_secret_access_key", "aws_secret_access_key = {}\n", AWS_SECRET),
    ("aws_secret_access_key", 'AWS_SECRET_ACCESS_KEY: "{}"\n', AWS_SECRET),
    ("github_token", 'gh = Github("{}")\n', GITHUB_PAT),
    ("github_token", "export GITHUB_TOKEN={}\n", GITHUB_OAUTH),
    ("github_token", "      token: {}\n", GITHUB_APP),
    ("github_token", "git clone https://{}@github.com/o/r.git\n", GITHUB_FINE),
    ("gitlab_token", "headers = {{'PRIVATE-TOKEN': '{}'}}\n", GITLAB),
    ("slack_token", 'client = WebClient(token="{}")\n', SLACK_BOT),
    ("slack_webhook", 'url = "https://hooks.slack.com/services/{}"\n', SLACK_HOOK_PATH),
    ("openai_key", 'openai.api_key = "{}"\n', OPENAI_LEGACY),
    ("openai_key", "const client = new OpenAI({{ apiKey: '{}' }});\n", OPENAI_PROJECT),
    ("anthropic_key", "ANTHROPIC_API_KEY={}\n", ANTHROPIC),
    ("stripe_key", 'stripe.api_key = "{}"\n', STRIPE_LIVE),
    ("google_api_key", 'fetch(`https://maps.googleapis.com/maps/api/js?key={}`)\n', GOOGLE),
    ("jwt", 'session = "{}"\n', JWT),
    ("jwt", "curl -H 'Cookie: sid={}' https://x\n", JWT),
    ("private_key", 'KEY = """{}\n"""\n', PEM),
    ("private_key", "{}\n", PEM_PKCS8),
    ("private_key", "{}\n", PEM_ENCRYPTED),
    ("private_key", "key = <<EOF\n{}\nEOF\n", PGP),
    ("private_key", "    key: |\n      {}\n", PEM_OPENSSH.replace("\n", "\n      ")),
    ("private_key", '  "private_key": "{}\\n",\n', PEM_PKCS8.replace("\n", "\\n")),
    ("private_key", 'KEY = (\n    "{}\\n"\n)\n', PEM.replace("\n", '\\n"\n    "')),
    ("bearer_token", 'headers = {{"Authorization": "Bearer {}"}}\n', BEARER),
    ("url_password", 'DATABASE_URL = "postgres://app:{}@db:5432/app"\n', DB_PASSWORD),
    ("assignment", 'password = "{}"\n', PASSWORD),
    ("assignment", 'DB_PASSWORD: str = "{}"\n', PASSWORD),
    ("assignment", '    "api_key": "{}",\n', HEX_KEY),
    ("assignment", "SECRET_KEY={}\n", DJANGO_KEY),
    ("assignment", "SECRET_KEY = '{}'\n", DJANGO_KEY),
    ("assignment", "export API_TOKEN={}  # production\n", HEX_KEY),
    ("assignment", "database:\n  password: {}\n  host: db\n", DB_PASSWORD),
    ("assignment", 'apiKey := "{}"\n', HEX_KEY),
    ("assignment", 'client = Client(base_url=url, api_key="{}", timeout=5)\n', HEX_KEY),
    ("assignment", "config['auth_token'] = r'{}'\n", DB_PASSWORD),
    ("assignment", "const clientSecret = `{}`;\n", DB_PASSWORD),
    ("assignment", "{{:password => '{}'}}\n", PASSWORD),
    ("assignment", "if pwd != '{}':\n", PASSWORD),
    ("assignment", "password = '{}'\n", 'Zx8#kLm2"Qp9vRt'),
    ("assignment", 'Password="{}"\r\n', DB_PASSWORD),
]


@pytest.mark.parametrize(("kind", "around", "secret"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_kind_is_redacted_and_the_code_around_it_kept(
        kind: str, around: str, secret: str) -> None:
    text = around.format(secret)
    redacted, count = redact(text)
    assert (redacted, count) == (around.format(placed(secret)), 1)
    assert redacted.count("\n") == text.count("\n")  # every line where it was
    assert [s.kind for s in find_secrets(text)] == [kind]


def test_counts_every_secret_and_leaves_the_rest() -> None:
    text = (f'AWS = ("{AWS_KEY_ID}", "{AWS_SECRET}")\n'
            f"def connect(token='{GITHUB_PAT}'):\n"
            f"    return Client(token, fallback='{GITHUB_PAT}')  # same one again\n"
            f"{PEM}\n"
            "print('done')\n")
    redacted, count = redact(text)

    assert count == 4
    assert redacted == (f'AWS = ("{PLACEHOLDER}", "{AWS_SECRET}")\n'
                        f"def connect(token='{PLACEHOLDER}'):\n"
                        f"    return Client(token, fallback='{PLACEHOLDER}')  # same one again\n"
                        f"{placed(PEM)}\n"
                        "print('done')\n")
    # A bare 40-character base64 string is not a secret by its shape alone: only the
    # assignment to an AWS secret name makes it one.
    assert redact(f'aws_secret_access_key = "{AWS_SECRET}"')[1] == 1


def test_a_private_key_cut_by_the_edge_of_the_text_is_still_redacted() -> None:
    lines = PEM.split("\n")
    head = "key = '''" + "\n".join(lines[:6]) + "\n"  # BEGIN and some key material
    tail = "\n".join(lines[6:]) + "'''\nprint(key)\n"  # the rest and END
    middle_and_end = "    " + "\n    ".join(lines[3:])

    assert redact(head) == (f"key = '''{placed(chr(10).join(lines[:6]))}\n", 1)
    assert redact(tail) == (f"{placed(chr(10).join(lines[6:]))}'''\nprint(key)\n", 1)
    assert redact(middle_and_end) == (f"    {placed(middle_and_end.lstrip())}", 1)


def test_a_key_block_without_key_material_is_code_not_a_secret() -> None:
    parser = ('BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\n'
              'END = "-----END RSA PRIVATE KEY-----"\n'
              "if line.startswith(BEGIN):\n")
    assert redact(parser) == (parser, 0)


# Ordinary code that looks a little like secrets: hashes and UUIDs in tests, data URLs,
# identifiers, environment lookups, placeholders and empty values.
ORDINARY = [
    'self.assertEqual(hashlib.sha256(b"abc").hexdigest(),\n'
    '                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")\n',
    'expected_md5 = "5d41402abc4b2a76b9719d911017c592"\n',
    "commit = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'  # the empty tree\n",
    'request_id = "550e8400-e29b-41d4-a716-446655440000"\n',
    'ICON = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'
    'YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="\n',
    "very_long_function_name_for_token_validation = build_token_validator_with_defaults()\n",
    'password = input("Password: ")\n',
    "password = getpass.getpass()\n",
    'password = os.environ["DB_PASSWORD"]\n',
    'api_key = os.getenv("OPENAI_API_KEY")\n',
    "const token = process.env.GITHUB_TOKEN;\n",
    'token = ""\n',
    'SECRET_KEY = "changeme"\n',
    'SECRET_KEY = "change-me-in-production"\n',
    'api_key = "<your-api-key>"\n',
    'token = "${GITHUB_TOKEN}"\n',
    "password: {{ vault_db_password }}\n",
    'password = "xxxxxxxxxxxxxxxx"\n',
    'password = "************"\n',
    'API_KEY = "your_api_key_here"\n',
    'token_type = "access_token_expired"\n',
    'PASSWORD_FIELD = "password_confirmation"\n',
    'password_hash_algorithm = "pbkdf2_sha256"\n',
    'SECRET_HEADER = "X-Hub-Signature-256"\n',
    'TOKEN_URL = "https://oauth2.googleapis.com/token"\n',
    'private_key_path = "/etc/ssl/private/server.key"\n',
    'publicKeyToken = "31bf3856ad364e35"\n',
    "token = tokens[0]\n",
    "    n_tokens=self.n_batch,\n",
    "max_tokens = 1024\n",
    'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")\n',
    "keys = sorted(d.keys())\n",
    "SECRET_KEY = get_random_secret_key()\n",
    "api_key = settings.OPENAI_API_KEY\n",
    "    api_key=api_key,\n",
    'DB_PASSWORD_ENV_VAR = "DATABASE_PASSWORD"\n',
    'bos_token = "<|begin_of_text|>"\n',
    "pip install scikit-learn\n",
    'task = "sk-learn-tutorial-chapter-three-and-four"\n',
    'url = "https://user:password@example.com/path"\n',
    'url = "https://jo%40email.com:a%20secret@example.com"\n',
    "--password-input-border-radius: 4px;\n",
    "Authorization: Bearer <token>\n",
    "password = 'correcthorsebatterystaple'\n",
    "timestamp_token = 1718112000123\n",
    'csrf_token_name = "csrfmiddlewaretoken"\n',
]


@pytest.mark.parametrize("code", ORDINARY)
def test_ordinary_code_is_left_alone(code: str) -> None:
    assert redact(code) == (code, 0)


def test_the_standard_library_has_no_secrets_outside_its_test_fixtures() -> None:
    """Every hit in the standard library's Python files is in a test file and a real-looking
    key (there are none in 3.11's .py files; its PEM test data lives in .pem files)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    hits = []
    for path in sorted(stdlib.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            text = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits += [(path.relative_to(stdlib).as_posix(), s.kind) for s in find_secrets(text)]
    assert all("test" in path and kind in ("private_key", "jwt") for path, kind in hits), hits


@pytest.mark.parametrize("name", ["DB_PASSWORD", "clientSecret", "x-api-key",
                                  "self.auth_token", "AWS_SECRET_ACCESS_KEY", "passphrase"])
def test_names_of_secrets(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize("name", ["tokenizer", "secretary", "password_field", "public_key",
                                  "max_tokens", "keyboard", "bypass"])
def test_names_of_other_things(name: str) -> None:
    assert not secret_name(name)


def test_values() -> None:
    assert entropy("aaaa") == 0.0
    assert entropy("abcd") == 2.0
    for value in (PASSWORD, HEX_KEY, DB_PASSWORD, DJANGO_KEY):
        assert looks_random(value), value
    for value in ("password_confirmation", "12345678901234", "i-am-the-worst", "${API_KEY}"):
        assert not looks_random(value), value


# --------------------------------------------------------------------------- properties

FRAGMENTS = [AWS_KEY_ID, GITHUB_PAT, SLACK_BOT, OPENAI_LEGACY, ANTHROPIC, GOOGLE, JWT, PEM,
             "password = ", "api_key: ", "SECRET=", '"', "'", "\n", " ", "Bearer ", "://u:",
             "@", "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", PASSWORD,
             HEX_KEY, DB_PASSWORD, "x", "_", "-", PLACEHOLDER]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=20))
def test_redaction_is_idempotent_and_keeps_every_line_in_place(pieces: list[str]) -> None:
    text = "".join(pieces)
    once, count = redact(text)

    assert redact(once) == (once, 0)
    assert once.count("\n") == text.count("\n")
    assert (count == 0) == (once == text)
    # A line grows by at most the placeholder's length per secret on it.
    before, after = text.split("\n"), once.split("\n")
    assert all(len(a) <= len(b) + count * len(PLACEHOLDER)
               for a, b in zip(after, before, strict=True))


def test_redaction_is_fast_on_a_megabyte() -> None:
    source = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text("utf-8")
    text = (source + f'\ntoken = "{GITHUB_PAT}"\n')
    text = text * (1_000_000 // len(text) + 1)
    started = time.perf_counter()
    redacted, count = redact(text)
    elapsed = time.perf_counter() - started

    assert count == text.count(GITHUB_PAT)
    assert GITHUB_PAT not in redacted
    assert elapsed < 1.0, f"{elapsed:.3f} s for {len(text) / 1e6:.1f} MB"


# --------------------------------------------------------------------------- around a cursor


def test_a_secret_cut_by_the_cursor_is_redacted_on_both_sides() -> None:
    text = f'import os\nKEY = "{OPENAI_LEGACY}"\nprint(KEY)\n'
    cursor = text.index(OPENAI_LEGACY) + 10
    prefix, suffix, count = redact_around(text, 0, cursor, len(text))

    assert prefix == f'import os\nKEY = "{PLACEHOLDER}'
    assert suffix == f'{PLACEHOLDER}"\nprint(KEY)\n'
    assert count == 1


def test_a_secret_reaching_past_the_window_is_redacted_inside_it() -> None:
    text = f"x = 1\nkey = '''{PEM}'''\nprint(key)\n"
    start = text.index("\n", text.index("BEGIN")) + 1  # the window starts inside the block
    cursor = text.index("print")
    prefix, suffix, count = redact_around(text, start, cursor, len(text))

    rest = PEM.split("\n", 1)[1]
    assert (prefix, suffix, count) == (f"{placed(rest)}'''\n", "print(key)\n", 1)


# --------------------------------------------------------------------------- the packer


def comment(path: str) -> str:
    return "#"


CURSOR_FILE = (f'STRIPE = "{STRIPE_LIVE}"\n'
               "\n\ndef charge(amount):\n"
               "    return stripe.Charge.create(amount=amount, api_key=STRIPE)\n"
               f'\n\nDB = "postgres://app:{DB_PASSWORD}@db/app"\n')
OTHER_FILE = (f"def connect(token='{GITHUB_PAT}'):\n"
              f"    private = '''{PEM}'''\n"
              "    return Github(token)\n")


def candidates() -> list[Candidate]:
    return [Candidate(kind="definition", path="lib/gh.py", start_line=1, end_line=16,
                      text=OTHER_FILE, score=1.0, reason="`connect` used near the cursor"),
            Candidate(kind="similar", path="lib/other.py", start_line=1, end_line=1,
                      text=f"password = '{PASSWORD}'\n", score=0.2, reason="similar lines")]


def test_every_section_of_the_window_is_redacted_and_counted() -> None:
    offset = CURSOR_FILE.index("amount=amount")
    window = pack_context(CURSOR_FILE, offset, budget=4000, path="app.py",
                          candidates=candidates(), comment=comment)
    prompt = window.prompt

    for secret in (STRIPE_LIVE, DB_PASSWORD, GITHUB_PAT, PASSWORD, *PEM.split("\n")):
        assert secret not in prompt
    assert window.redactions == 5
    assert prompt.count(PLACEHOLDER) == 4 + len(PEM.split("\n"))  # the key's, one a line
    # The cursor did not move: the prefix ends and the suffix starts where they did.
    assert window.cursor.prefix.endswith("stripe.Charge.create(")
    assert window.cursor.suffix.startswith("amount=amount, api_key=STRIPE)\n")
    assert window.tokens <= window.budget
    assert count_tokens(prompt) <= window.tokens
    # Token counts in the sections are those of the redacted text.
    [prefix] = [s for s in window.sections if s.kind == "prefix"]
    assert prefix.tokens == sum(count_tokens(line) for line in
                                window.cursor.prefix.splitlines(keepends=True))

    report = context_report(window, elapsed_ms=1.0, index_ms=2.0)
    assert report["redactions"] == 5
    assert set(report) == {"budget", "tokens", "prompt", "elapsed_ms", "index_ms", "sections",
                           "redactions", "excluded"}


def test_a_window_without_secrets_is_unchanged() -> None:
    text = "def f(x):\n    return x + 1\n"
    window = pack_context(text, len(text) - 1, budget=200, path="a.py", candidates=[],
                          comment=comment)
    assert window.redactions == 0
    assert window.cursor.prefix + window.cursor.suffix == text


@settings(max_examples=60, deadline=None)
@given(budget=st.integers(min_value=0, max_value=400),
       where=st.floats(min_value=0, max_value=1))
def test_a_redacted_window_never_exceeds_its_budget(budget: int, where: float) -> None:
    # Cursors anywhere, inside secrets too (where one secret becomes two placeholders).
    offset = int(len(CURSOR_FILE) * where)
    window = pack_context(CURSOR_FILE, offset, budget=budget, path="app.py",
                          candidates=candidates(), comment=comment)

    assert window.tokens <= budget
    assert count_tokens(window.prompt) <= budget
    for secret in (STRIPE_LIVE, DB_PASSWORD, GITHUB_PAT, PASSWORD):
        assert secret not in window.prompt


# --------------------------------------------------------------------------- completions


def test_a_completion_is_cut_before_the_placeholder() -> None:
    around = Surroundings.at("client = Client(\n    ", "\n)\n")
    assert clean(f'api_key="{PLACEHOLDER}",', around) == 'api_key="'
    assert clean(f"{PLACEHOLDER}", around) == ""
    assert clean(f"  {PLACEHOLDER} ", around) == ""
    # Below the cursor's line, the placeholder's whole line goes.
    assert clean(f'timeout=5,\n    api_key="{PLACEHOLDER}",', around) == "timeout=5,"
    assert not KeepGoing(around)(f"timeout=5, api_key={PLACEHOLDER}")
    assert KeepGoing(around)("timeout=5,")
