"""Transcription benchmark (prints figures; not a test).

    .venv/bin/python -m tests.bench.bench_transcribe [--limit N]

Each engine transcribes Asterisk's recorded vm-* prompts (8 kHz WAV, as messages are stored) one after
the other, and is scored against the transcripts the sound package ships (tests/wer.py: word error
rate over the whole corpus). Measured per engine: the number of prompts, their total audio, the median
time per file, the real-time factor (processing time / audio duration; below 1 is faster than real time)
and the WER.

- null: the default engine, which hears nothing: the baseline (WER 1.0).
- pocketsphinx: the offline engine (ffmpeg resampling to 16 kHz, then the decoder on its thread).
- http: the HTTP engine against a local OpenAI-compatible server (tests/transcribekit.py) on loopback.
  There is no Whisper here, so that server runs pocketsphinx itself on the audio it receives: its WER is
  pocketsphinx's, and the difference in time from the pocketsphinx row is what the HTTP engine adds
  (multipart upload, the server's temp file, JSON). The server runs in this process and event loop; the
  decoding runs on the server engine's own thread.
- http transport only: the same server answering an empty text at once, so the HTTP engine's own cost
  is measured apart from the decoder's run-to-run variation (which is larger than that cost).

Each engine's model is loaded by one untimed transcription before the clock starts (a server loads it
once at start-up). The prompts are short (most under 5 s), so fixed per-file costs weigh more than they
would on real messages.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from ivr.notify.transcribe import HttpEngine, NullEngine, PocketSphinxEngine
from tests.transcribekit import Request, TranscriptionServer, says
from tests.wer import Prompt, prompt_corpus, word_error_rate

KEY = "sk-bench"


@dataclass(frozen=True)
class Figures:
    engine: str
    count: int
    audio_s: float
    median_s: float
    total_s: float
    wer: float

    @property
    def rtf(self) -> float:
        return self.total_s / self.audio_s


def seconds_of(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


async def measure(name: str, engine, corpus: list[Prompt]) -> Figures:
    """`engine` on every prompt, one at a time; closes the engine."""
    try:
        await engine.transcribe(corpus[0].path)  # loads the model (untimed)
        heard, times = [], []
        for prompt in corpus:
            started = time.perf_counter()
            heard.append(await engine.transcribe(prompt.path))
            times.append(time.perf_counter() - started)
    finally:
        await engine.close()
    return Figures(
        name,
        len(corpus),
        sum(seconds_of(prompt.path) for prompt in corpus),
        statistics.median(times),
        sum(times),
        word_error_rate([prompt.text for prompt in corpus], heard),
    )


def pocketsphinx_service(directory: Path):
    """A server answer that runs pocketsphinx on the uploaded audio: (answer, the engine to close)."""
    engine = PocketSphinxEngine()

    async def answer(request: Request) -> tuple[int, object]:
        upload = Path(tempfile.mkstemp(suffix=".wav", dir=directory)[1])
        try:
            await asyncio.to_thread(upload.write_bytes, request.audio)
            return 200, {"text": await engine.transcribe(upload)}
        finally:
            upload.unlink()

    return answer, engine


async def measure_http(corpus: list[Prompt], directory: Path) -> Figures:
    answer, server_engine = pocketsphinx_service(directory)
    server = await TranscriptionServer(KEY, answer).start()
    try:
        return await measure(
            "http (local server running pocketsphinx)", HttpEngine(server.url, KEY), corpus
        )
    finally:
        await server.close()
        await server_engine.close()


async def measure_transport(corpus: list[Prompt]) -> Figures:
    server = await TranscriptionServer(KEY, says("")).start()
    try:
        return await measure(
            "http transport only (empty answer)", HttpEngine(server.url, KEY), corpus
        )
    finally:
        await server.close()


def report(figures: list[Figures]) -> None:
    first = figures[0]
    print(
        f"\n{first.count} vm-* prompts of Asterisk's en sounds, {first.audio_s:.1f} s of audio"
        f" (mean {first.audio_s / first.count:.2f} s), 8 kHz WAV, one file at a time"
    )
    print(f"  {'engine':44} {'N':>4} {'audio s':>8} {'median/file':>12} {'RTF':>7} {'WER':>6}")
    for row in figures:
        print(
            f"  {row.engine:44} {row.count:4d} {row.audio_s:8.1f} {row.median_s * 1000:9.2f} ms {row.rtf:7.3f}"
            f" {row.wer:6.3f}"
        )
    by_name = {row.engine.split(" (")[0]: row for row in figures}
    local, remote = by_name["pocketsphinx"], by_name["http"]
    print(
        f"  http minus pocketsphinx: {(remote.total_s - local.total_s) / remote.count * 1000:+.1f} ms per file"
        f" ({remote.rtf - local.rtf:+.3f} RTF; within the decoder's run-to-run variation)"
    )
    print(
        "  (WER: word-level edits / reference words over the corpus; null hears nothing, so 1.0 by construction)"
    )


async def run(limit: int | None) -> None:
    corpus = prompt_corpus()[:limit]
    for (
        prompt
    ) in corpus:  # into the page cache, so the first engine measured does not pay for the disk
        prompt.path.read_bytes()
    with tempfile.TemporaryDirectory() as directory:
        figures = [
            await measure("null (baseline)", NullEngine(), corpus),
            await measure("pocketsphinx", PocketSphinxEngine(), corpus),
            await measure_http(corpus, Path(directory)),
            await measure_transport(corpus),
        ]
    report(figures)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N prompts (by name)"
    )
    asyncio.run(run(parser.parse_args().limit))


if __name__ == "__main__":
    main()
