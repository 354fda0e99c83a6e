"""Audio conversion: through ffmpeg (the store's one module that runs it), and MP3 in process.

Messages and greetings are stored as 8 kHz 16-bit mono WAV, which Asterisk plays without transcoding.
Uploads in any format ffmpeg decodes are normalised to that on the way in; downloads are encoded to the
box's `media_extension` on the way out: MP3 in process by LAME (store/mp3.py), MP4 by ffmpeg.

Nothing here blocks the event loop: ffmpeg runs as an asyncio subprocess, LAME on a pool of threads.
A semaphore keeps the number of ffmpeg processes, and the pool the number of LAME threads, near the
number of cores.
"""

import asyncio
import os
import wave
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from store.errors import NotAudio, TooLong
from store.mp3 import encode_mp3

SAMPLE_RATE = 8000
MAX_AUDIO_S = 3600  # longer uploads are refused: no voicemail or greeting lasts an hour

# Per download format: the ffmpeg output options (None: not through ffmpeg) and the HTTP Content-Type.
FORMATS = {
    "mp3": (None, "audio/mpeg"),  # LAME in process (store/mp3.py)
    "mp4": (["-c:a", "aac", "-b:a", "32k", "-f", "mp4"], "audio/mp4"),
    "wav": (None, "audio/x-wav"),  # the stored file itself
}


@dataclass(frozen=True)
class AudioInfo:
    length_ms: int
    rate: int = SAMPLE_RATE
    channels: int = 1
    sample_width: int = 2

    @property
    def stored_format(self) -> bool:
        """True for 8 kHz 16-bit mono: the format messages are kept in, as Asterisk's `wav` writes it."""
        return (self.rate, self.channels, self.sample_width) == (SAMPLE_RATE, 1, 2)


class FFmpeg:
    """Runs ffmpeg with at most `parallel` processes at a time."""

    def __init__(self, binary: str = "ffmpeg", parallel: int = 4):
        self._binary = binary
        self._slots = asyncio.Semaphore(parallel)

    async def _run(self, *args: str) -> tuple[int, str]:
        async with self._slots:
            process = await asyncio.create_subprocess_exec(
                self._binary,
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, stderr = await process.communicate()
        return process.returncode, stderr.decode(errors="replace").strip()

    async def normalise(self, source: Path, target: Path, max_s: int = MAX_AUDIO_S) -> AudioInfo:
        """Decode `source` (any format) into 8 kHz 16-bit mono WAV at `target`.

        Raises NotAudio when ffmpeg cannot decode it or it holds no sound, TooLong when it lasts more
        than `max_s` seconds; `target` is then absent.
        """
        # Decoding stops just past the limit: a small, highly compressed upload cannot make ffmpeg
        # write gigabytes of WAV (or run for hours) before we find out it is too long.
        code, errors = await self._run(
            "-i",
            str(source),
            "-map",
            "0:a:0",
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "-c:a",
            "pcm_s16le",
            "-t",
            str(max_s + 1),
            "-f",
            "wav",
            str(target),
        )
        if code != 0:
            target.unlink(missing_ok=True)
            raise NotAudio(f"not a decodable audio file ({_last_line(errors)})")
        info = wav_info(target)
        if info.length_ms == 0 or info.length_ms > max_s * 1000:
            target.unlink(missing_ok=True)
            raise NotAudio("the file holds no audio") if info.length_ms == 0 else TooLong(max_s)
        return info

    async def encode(self, source: Path, extension: str, target: Path) -> None:
        """Encode the stored WAV `source` as `extension` (mp4) into `target`.

        Raises RuntimeError when ffmpeg fails (a source that is gone included).
        """
        options, _ = FORMATS[extension]
        code, errors = await self._run("-i", str(source), *options, str(target))
        if code != 0:
            target.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg could not encode {source.name} as {extension}: {errors}")


class Encoder:
    """Encodes stored WAV files for download: MP3 in process on `threads` threads, MP4 through
    ffmpeg. `encoded` counts the encodings made, by extension."""

    def __init__(self, ffmpeg: FFmpeg, threads: int | None = None):
        self.ffmpeg = ffmpeg
        self.encoded: Counter[str] = Counter()
        self._threads = ThreadPoolExecutor(
            threads or os.cpu_count() or 2, thread_name_prefix="vmbox-mp3"
        )

    async def encode(self, source: Path, extension: str, target: Path) -> None:
        """Write `source` encoded as `extension` (mp3 or mp4) to `target`.

        Raises FileNotFoundError (MP3) or RuntimeError (MP4) when `source` is gone, RuntimeError
        when it cannot be encoded.
        """
        if extension == "mp3":
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._threads, _write_mp3, source, target)
        else:
            await self.ffmpeg.encode(source, extension, target)
        self.encoded[extension] += 1


def _write_mp3(source: Path, target: Path) -> None:
    try:
        with wave.open(os.fspath(source), "rb") as wav:
            if wav.getsampwidth() != 2:
                raise ValueError(f"{wav.getsampwidth() * 8}-bit samples")
            rate, channels = wav.getframerate(), wav.getnchannels()
            pcm = wav.readframes(wav.getnframes())
        target.write_bytes(encode_mp3(pcm, rate, channels))
    except (wave.Error, EOFError, ValueError) as exc:
        raise RuntimeError(f"could not encode {source.name} as mp3: {exc}") from exc


def wav_info(path: Path) -> AudioInfo:
    """Length of a PCM WAV file, read from its header."""
    try:
        with wave.open(os.fspath(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
            channels, width = wav.getnchannels(), wav.getsampwidth()
    except (wave.Error, EOFError) as exc:
        raise NotAudio(f"not a PCM WAV file: {exc}") from exc
    return AudioInfo(frames * 1000 // rate, rate, channels, width)


def cut_wav(path: Path, max_ms: int) -> None:
    """Cut a PCM WAV file to its first `max_ms` milliseconds (nothing is done to a shorter one).

    ARI's recordings stop up to a second after maxDurationSeconds on Asterisk 22, so a box's limit is
    kept by cutting what came after it. Raises NotAudio when it is not a PCM WAV file."""
    try:
        with wave.open(os.fspath(path), "rb") as wav:
            params = wav.getparams()
            keep = max_ms * params.framerate // 1000
            if params.nframes <= keep:
                return
            frames = wav.readframes(keep)
    except (wave.Error, EOFError) as exc:
        raise NotAudio(f"not a PCM WAV file: {exc}") from exc
    cut = path.with_name(path.name + ".cut")
    with wave.open(os.fspath(cut), "wb") as wav:
        wav.setparams(params)
        wav.writeframes(frames)
    os.replace(cut, path)


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no detail from ffmpeg"
