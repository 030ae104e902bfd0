"""Properties over random workspaces: whatever the files and the rules, the context window
never contains an excluded path and never exceeds its budget."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskmate.context.budget import count_tokens
from deskmate.context.engine import ContextEngine
from deskmate.context.workspace import Workspace

NAMES = ["app.py", "util.py", ".env", ".env.local", "id_rsa", "server.pem", "secrets.yaml",
         "credentials.json", "notes.txt", "gen.py", "vendor.py", "lib.js"]
FOLDERS = ["", "src/", "generated/", "vendor/", ".ssh/", "node_modules/x/", "internal/"]
RULES = ["generated/", "vendor/", "*.txt", "internal/**", "!vendor/keep.py", "util.py"]
BODY = ("from util import helper, compute_total\n\n"
        "def compute_total(items):\n    '''Sum.'''\n    return sum(items)\n\n"
        "def helper():\n    return compute_total([1, 2])\n")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(st.sampled_from(FOLDERS), st.sampled_from(NAMES)),
                      min_size=1, max_size=10, unique=True),
       gitignore=st.lists(st.sampled_from(RULES), max_size=3),
       deskmateignore=st.lists(st.sampled_from(RULES), max_size=2),
       exclude=st.lists(st.sampled_from(RULES), max_size=2),
       budget=st.integers(min_value=8, max_value=3000))
def test_no_excluded_path_and_never_over_budget(
    files: list[tuple[str, str]], gitignore: list[str], deskmateignore: list[str],
    exclude: list[str], budget: int,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / ".gitignore").write_text("\n".join(gitignore) + "\n")
        (root / ".deskmateignore").write_text("\n".join(deskmateignore) + "\n")
        paths = [f"{directory}{name}" for directory, name in files]
        for path in paths:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(BODY)
        engine = ContextEngine(root, exclude=tuple(exclude), use_cache=False)
        engine.build_index()
        rules = Workspace(root, exclude=tuple(exclude))
        allowed = [p for p in paths if not rules.is_excluded(p)]
        current = allowed[0] if allowed else "scratch.py"
        window = engine.window(path=current, text=BODY, offset=len(BODY) - 10, budget=budget,
                               open_documents={p: BODY for p in paths if p != current})

        for section in window.sections:
            assert section.path == current or not rules.is_excluded(section.path), section
        assert count_tokens(window.prompt) <= window.tokens <= budget
