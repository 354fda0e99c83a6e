"""Transcription of new messages: engines behind one interface, and the `transcribe` job.

Rules:
- An engine turns a stored WAV file into text. It raises `TranscriptionUnavailable` when trying again
  later may work (the service is down, slow or overloaded) and `TranscriptionFailed` when it cannot
  (audio the engine refuses, a key the service rejects).
- The job stores `transcription: {"result": "success" | "failure", "text": ...}` on the message and
  then queues what `after` gives (the email), after a failure too: the owner is always told of the
  message, with the text when there is one. Nothing else of the message is touched.
- A temporary failure is retried (worker.Retry) until the job has run `attempts` times; then, or at
  once on a permanent failure, the result "failure" is stored. `attempts` must not exceed the
  worker's own limit, or the worker would give up first and the email would never be queued.
- pocketsphinx is imported only by PocketSphinxEngine (an optional extra); this module is the only
  user of aiohttp's client.

Why the offline engine resamples: pocketsphinx's only shipped English model is trained on 16 kHz
audio and messages are stored at 8 kHz. Upsampling with ffmpeg to 16 kHz and keeping the model's
front end gives a word error rate of 0.75 on Asterisk's vm-* prompts; configuring the decoder for
8 kHz instead (samprate 8000, the model's filter bank cut to 3.5-4 kHz) gives 1.13 (worse than no
output at all), since the model then sees features it was never trained on.
"""

import asyncio
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import aiohttp

from ivr.config import ConfigError, TranscriptionSettings
from ivr.notify.worker import Retry
from store.core import Store
from store.jobs import Job, NewJob, Outcome
from store.messages import get_message, set_transcription

logger = logging.getLogger(__name__)

ENGINES = ("null", "pocketsphinx", "http")
ATTEMPTS = 3  # runs of a job that meets temporary failures before "failure" is stored (capped by the worker's)
MODEL_RATE = 16000  # the sample rate pocketsphinx's en-us model was trained on


class TranscriptionUnavailable(Exception):
    """A temporary failure: the same audio may be transcribed later."""


class TranscriptionFailed(Exception):
    """A failure that trying again will not fix."""


class Engine(Protocol):
    async def transcribe(self, wav_path: Path) -> str:
        """The words spoken in `wav_path`; raises TranscriptionUnavailable or TranscriptionFailed."""

    async def close(self) -> None:
        """Release what the engine holds (connections, threads)."""


class NullEngine:
    """No transcription: hears nothing (the default engine)."""

    async def transcribe(self, wav_path: Path) -> str:
        """Always the empty text."""
        return ""

    async def close(self) -> None:
        """Nothing to release."""


class PocketSphinxEngine:
    """Offline recognition with pocketsphinx's US English model, one decoding at a time on a thread
    of its own (decoding is CPU-bound, and a decoder is not thread-safe)."""

    def __init__(self, ffmpeg: str = "ffmpeg"):
        try:
            import pocketsphinx
        except ImportError:
            raise ConfigError(
                'transcription.engine = "pocketsphinx" needs the optional extra: install it with'
                " `pip install 'vmbox[transcribe]'` (in vmbox's own environment)"
            ) from None
        self._pocketsphinx = pocketsphinx
        self._ffmpeg = ffmpeg
        self._decoder = (
            None  # made on the decoding thread at first use (loading the model takes ~0.3 s)
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pocketsphinx")

    async def transcribe(self, wav_path: Path) -> str:
        """The words in `wav_path` (any format ffmpeg reads), lower case; raises FileNotFoundError when
        the file is missing, TranscriptionFailed when ffmpeg cannot decode it."""
        pcm = await self._pcm(wav_path)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._decode, pcm)

    async def _pcm(self, wav_path: Path) -> bytes:
        """The audio as raw 16-bit mono samples at the model's rate."""
        if not wav_path.exists():
            raise FileNotFoundError(wav_path)
        process = await asyncio.create_subprocess_exec(
            self._ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(wav_path),
            "-ac",
            "1",
            "-ar",
            str(MODEL_RATE),
            "-f",
            "s16le",
            "-",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        pcm, errors = await process.communicate()
        if process.returncode != 0:
            raise TranscriptionFailed(
                f"ffmpeg could not decode {wav_path.name}: {errors.decode(errors='replace')}"
            )
        return pcm

    def _decode(self, pcm: bytes) -> str:
        if self._decoder is None:
            self._decoder = self._pocketsphinx.Decoder(samprate=MODEL_RATE)
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""

    async def close(self) -> None:
        """Wait for a decoding in progress, then stop the thread."""
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown)


# Statuses worth retrying: the service is overloaded, restarting or timed out on its side.
_TEMPORARY = {408, 429}


class HttpEngine:
    """An OpenAI-compatible service: POST multipart `file` (the WAV as stored) and `model` to
    `<url>/v1/audio/transcriptions`, answer `{"text": ...}`."""

    def __init__(
        self, url: str, api_key: str = "", model: str = "whisper-1", timeout_s: float = 120
    ):
        self.endpoint = endpoint(url)
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def transcribe(self, wav_path: Path) -> str:
        """The service's text for `wav_path`. No answer, a timeout, a 5xx, 408 or 429: unavailable;
        another 4xx or an answer without a text: failed. Raises FileNotFoundError when the file is missing."""
        audio = await asyncio.to_thread(wav_path.read_bytes)
        form = aiohttp.FormData()
        form.add_field("file", audio, filename=wav_path.name, content_type="audio/wav")
        form.add_field("model", self.model)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self.endpoint, data=form, headers=self._headers
            ) as response:
                body = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TranscriptionUnavailable(
                f"{self.endpoint}: {type(exc).__name__} {exc}".strip()
            ) from exc
        return _text(status, body)

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()


def endpoint(url: str) -> str:
    """The transcriptions endpoint of a service given by its base URL, with or without `/v1`, or
    the endpoint itself."""
    url = url.rstrip("/")
    if url.endswith("/audio/transcriptions"):
        return url
    return (
        f"{url}/audio/transcriptions"
        if re.search(r"/v1$", url)
        else f"{url}/v1/audio/transcriptions"
    )


def _text(status: int, body: str) -> str:
    """The text of a service's answer, or the error it stands for."""
    detail = f"HTTP {status}: {body[:300]}"
    if status >= 500 or status in _TEMPORARY:
        raise TranscriptionUnavailable(detail)
    if not 200 <= status < 300:
        raise TranscriptionFailed(detail)
    try:
        text = json.loads(body).get("text")
    except (ValueError, AttributeError):
        text = None
    if not isinstance(text, str):
        raise TranscriptionFailed(f"the service answered without a text: {body[:300]}")
    return text.strip()


def make_engine(settings: TranscriptionSettings) -> Engine:
    """The engine the settings name; raises ConfigError for an unknown one or a missing part."""
    if settings.engine == "null":
        return NullEngine()
    if settings.engine == "pocketsphinx":
        return PocketSphinxEngine()
    if settings.engine == "http":
        if not settings.url:
            raise ConfigError(
                'transcription.engine = "http" needs transcription.url (VMBOX_TRANSCRIPTION_URL)'
            )
        return HttpEngine(settings.url, settings.api_key, settings.model, settings.timeout_s)
    raise ConfigError(
        f"transcription.engine: {settings.engine!r} is not one of {', '.join(ENGINES)}"
    )


class Transcription:
    """The `transcribe` job: transcribe a new message, store the result, then queue `after(payload)`."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        after: Callable[[dict], tuple[NewJob, ...]],
        attempts: int = ATTEMPTS,
    ):
        self.store = store
        self.engine = engine
        self.after = after
        self.attempts = attempts

    async def transcribe(self, job: Job) -> Outcome:
        """Store the message's transcription; raises Retry on a temporary failure before the last attempt."""
        payload = job.payload
        message = await get_message(
            self.store.db, payload["account_id"], payload["box_id"], payload["message_id"], 0
        )
        if message is None or message.media_file is None:
            return Outcome("done", "the message is gone; nothing to transcribe")
        if message.doc.get("transcription", {}).get("result") == "success":  # a rerun after a crash
            return Outcome("done", "already transcribed", follow_ups=self.after(payload))
        try:
            text = await self.engine.transcribe(await self.store.media.local(message.media_file))
        except TranscriptionFailed as exc:
            return await self._failed(payload, str(exc))
        except Exception as exc:  # unavailable, the audio replaced meanwhile, or a bug in an engine
            if not isinstance(exc, (TranscriptionUnavailable, FileNotFoundError)):
                logger.exception("transcription engine failed on message %s", payload["message_id"])
            if job.attempts < self.attempts:
                raise Retry(f"{type(exc).__name__}: {exc}") from exc
            return await self._failed(
                payload, f"{type(exc).__name__}: {exc} (gave up after {job.attempts} attempts)"
            )
        if not await self._store(payload, "success", text):
            return Outcome("done", "the message is gone; nothing to notify")
        return Outcome(
            "done", f"transcribed: {len(text.split())} words", follow_ups=self.after(payload)
        )

    async def _failed(self, payload: dict, detail: str) -> Outcome:
        logger.warning("no transcription of message %s: %s", payload["message_id"], detail)
        if not await self._store(payload, "failure", ""):
            return Outcome("done", "the message is gone; nothing to notify")
        return Outcome(
            "done",
            f"transcription failed, notifying without it: {detail}",
            follow_ups=self.after(payload),
        )

    async def _store(self, payload: dict, result: str, text: str) -> bool:
        return await set_transcription(
            self.store,
            payload["account_id"],
            payload["box_id"],
            payload["message_id"],
            result,
            text,
        )

    async def close(self) -> None:
        """Close the engine."""
        await self.engine.close()
