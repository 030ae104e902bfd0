"""The `deskmate` command: `serve` (the LSP server), `complete`, `doctor`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deskmate.context.engine import ContextEngine
from deskmate.server import logs
from deskmate.server.config import Config, load_config
from deskmate.server.errors import BackendError, DeskmateError


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.setup(args.verbose)
    try:
        code: int = args.run(args)
        return code
    except DeskmateError as exc:
        print(f"deskmate: {logs.mask(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskmate", description="A coding colleague in your editor (LSP server and tools).")
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.set_defaults(run=_serve)

    complete = commands.add_parser("complete", help="print a completion at FILE:LINE:COL")
    complete.add_argument("location", metavar="FILE:LINE:COL",
                          help="1-based line and column (the column counts characters)")
    complete.add_argument("--json", action="store_true", help="print one JSON object")
    complete.set_defaults(run=_complete)

    context = commands.add_parser(
        "context", help="print the context packed for a completion at FILE:LINE:COL")
    context.add_argument("location", metavar="FILE:LINE:COL",
                         help="1-based line and column (the column counts characters)")
    context.add_argument("--budget", type=int, metavar="N",
                         help="total token budget of the prompt (default: window - "
                              "reserve_output)")
    context.add_argument("--json", action="store_true",
                         help="print one JSON object: the prompt and every section's decision")
    context.set_defaults(run=_context)

    doctor = commands.add_parser("doctor", help="check profiles, models and offline assets")
    doctor.set_defaults(run=_doctor)

    trust = commands.add_parser(
        "trust", help="let DIR's .deskmate.toml choose model servers, keys and routes")
    trust.add_argument("directory", metavar="DIR", nargs="?", type=Path, default=Path.cwd(),
                       help="the workspace (default: the current directory)")
    trust.add_argument("--revoke", action="store_true", help="stop trusting DIR")
    trust.set_defaults(run=_trust)

    for sub in (serve, complete, context, doctor, trust):
        _add_common(sub, suppress=True)
    return parser


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # Accepted before or after the subcommand; SUPPRESS keeps a subcommand's absent flag from
    # overwriting the value given before it.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", type=Path, metavar="PATH", default=default,
                        help="config file (default: $DESKMATE_CONFIG, <workspace>/.deskmate.toml, "
                             "$XDG_CONFIG_HOME/deskmate/config.toml)")
    parser.add_argument("--workspace", type=Path, metavar="DIR", default=default,
                        help="workspace root (default: the git root of FILE, else the current "
                             "directory)")
    parser.add_argument("-v", "--verbose", action="count",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="more logging on stderr (repeat for more)")


# --------------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    from deskmate.server.lsp import build_server

    server = build_server(config_path=args.config, workspace=args.workspace)
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise DeskmateError(f"--tcp wants HOST:PORT, got {args.tcp!r}")
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    return 0


# --------------------------------------------------------------------------- complete


def parse_location(location: str) -> tuple[Path, int, int]:
    """FILE:LINE:COL → (file, line, col), both numbers 1-based."""
    try:
        file, line, col = location.rsplit(":", 2)
        line_number, column = int(line), int(col)
    except ValueError:
        raise DeskmateError(f"expected FILE:LINE:COL, got {location!r}") from None
    if line_number < 1 or column < 1:
        raise DeskmateError(f"LINE and COL start at 1, got {line_number}:{column}")
    return Path(file), line_number, column


def offset_of(text: str, line: int, column: int, *, name: str) -> int:
    """Index into `text` of 1-based LINE:COL, COL counting characters; COL may be one past
    the line's last character (the end of the line)."""
    lines = text.split("\n")
    if line > len(lines):
        raise DeskmateError(f"{name} has {len(lines)} lines; line {line} does not exist")
    content = lines[line - 1].rstrip("\r")
    if column > len(content) + 1:
        raise DeskmateError(f"{name}:{line} has {len(content)} characters; column {column} is "
                            f"past its end (the end is column {len(content) + 1})")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def workspace_of(file: Path) -> Path:
    try:
        out = subprocess.run(["git", "-C", str(file.parent), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return Path.cwd()
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else Path.cwd()


def _cli_config(args: argparse.Namespace, workspace: Path) -> Config:
    config = load_config(explicit=args.config, workspace=workspace)
    for problem in config.problems:
        print(f"deskmate: config: {problem}", file=sys.stderr)
    for profile in config.profiles.values():
        logs.register_secret(profile.api_key())
    return config


@dataclass(frozen=True)
class _At:
    """A FILE:LINE:COL from the command line, read and placed in its workspace."""

    file: Path
    text: str
    offset: int
    workspace: Path
    relative: str  # the path the model sees


def _locate(args: argparse.Namespace) -> _At:
    file, line, column = parse_location(args.location)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeskmateError(f"cannot read {file}: {exc}") from None
    offset = offset_of(text, line, column, name=str(file))
    workspace = args.workspace or workspace_of(file.resolve())
    try:
        relative = file.resolve().relative_to(workspace.resolve()).as_posix()
    except ValueError:
        relative = file.name
    return _At(file, text, offset, workspace, relative)


def _engine(workspace: Path) -> tuple[ContextEngine, float]:
    """The context engine of a workspace with its index built (from the cache when it is
    fresh); the milliseconds that took."""
    started = time.perf_counter()
    engine = ContextEngine(workspace, workers=os.cpu_count() or 1)
    engine.build_index()
    return engine, (time.perf_counter() - started) * 1000


def _context(args: argparse.Namespace) -> int:
    from deskmate.server.jobs import context_report, prompt_budget

    at = _locate(args)
    config = _cli_config(args, at.workspace)
    configured = [p.window for p in config.chain("completion")]  # no model is loaded here
    budget = args.budget if args.budget is not None else prompt_budget(config, configured)
    if budget < 1:
        raise DeskmateError(f"--budget must be a positive number of tokens, got {budget}")
    engine, index_ms = _engine(at.workspace)
    started = time.perf_counter()
    window = engine.window(path=at.relative, text=at.text, offset=at.offset, budget=budget)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if args.json:
        report = context_report(window, elapsed_ms=elapsed_ms, index_ms=index_ms)
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(window.prompt, end="")
    return 0


def _complete(args: argparse.Namespace) -> int:
    from deskmate.server.jobs import CompletionInput, CompletionJobs
    from deskmate.server.router import Router

    at = _locate(args)
    file, text, offset, relative = at.file, at.text, at.offset, at.relative
    config = _cli_config(args, at.workspace)
    engine, _ = _engine(at.workspace)

    async def run() -> int:
        router = Router()
        jobs = CompletionJobs(lambda: config, router, lambda: engine)
        try:
            outcome = await jobs.complete(CompletionInput(
                key=str(file), text=text, offset=offset, path=relative,
                language=file.suffix.lstrip(".")))
        except BackendError as exc:
            print(f"deskmate: {logs.mask(str(exc))}", file=sys.stderr)
            return 1
        finally:
            await router.aclose()
        g = outcome.generation
        if args.json:
            print(json.dumps({
                "text": outcome.text,
                "profile": g.profile if g else "",
                "model": g.model if g else "",
                "latency_ms": round(outcome.latency_ms, 1),
                "first_token_ms": round(g.first_token_ms, 1) if g and g.first_token_ms else None,
                "prompt_tokens": g.prompt_tokens if g else 0,
                "output_tokens": g.output_tokens if g else 0,
                "usage_reported": g.usage_reported if g else False,
                "finish_reason": g.finish_reason if g else "",
                "context_tokens": outcome.context.tokens if outcome.context else 0,
            }, ensure_ascii=False))
        else:
            print(outcome.text)
        return 0

    return asyncio.run(run())


# --------------------------------------------------------------------------- trust


def _trust(args: argparse.Namespace) -> int:
    from deskmate.server.trust import set_trust, trust_file

    directory: Path = args.directory
    if not directory.is_dir():
        raise DeskmateError(f"{directory} is not a directory")
    changed = set_trust(directory, not args.revoke)
    state = "no longer trusted" if args.revoke else "trusted"
    note = "" if changed else " (it already was)" if not args.revoke else " (it was not)"
    print(f"{directory.resolve()}: {state}{note}; recorded in {trust_file()}")
    return 0


# --------------------------------------------------------------------------- doctor


def _doctor(args: argparse.Namespace) -> int:
    from deskmate.server.doctor import run_doctor

    workspace = args.workspace or Path.cwd()
    config = _cli_config(args, workspace)
    ok, lines = asyncio.run(run_doctor(config))
    print("\n".join(lines))
    return 0 if ok else 1
