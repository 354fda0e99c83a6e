"""Audio as Asterisk's `wav` format sees it: 8 kHz, 16-bit, mono PCM; lengths in samples.

- Prompt lengths come from the WAV header (the wave module), cached per file version (path, size, mtime).
  A file Asterisk's wav format would refuse (another rate, stereo, 8-bit) is a SoundError: Asterisk
  cannot open it, exactly as if it were missing.
- What the caller says is a generated 440 Hz tone or a given audio file, converted by ffmpeg when it is
  not 8 kHz 16-bit mono WAV already.
- Silence is judged as Asterisk's DSP does for RECORD FILE s=: per 20 ms frame (160 samples), the mean
  absolute sample value below 256 (dsp.conf's default silencethreshold) is silence.
"""

import math
import os
import subprocess
import sys
import wave
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ivr.simulator.script import AudioFile, Tone

SAMPLE_RATE = 8000
FRAME = 160  # samples in a 20 ms frame
SILENCE_THRESHOLD = 256
TONE_HZ = 440
TONE_AMPLITUDE = 8000


class SoundError(Exception):
    """An audio file that cannot be used; the message says why."""


def wav_path(name: str, sounds_dir: Path) -> Path:
    """The file STREAM FILE plays for `name`: absolute names as given, others under the sounds
    directory, plus `.wav` (Asterisk adds the extension itself, so `x.wav` means `x.wav.wav`)."""
    base = Path(name) if name.startswith("/") else sounds_dir / name
    return base.with_name(base.name + ".wav")


def sound_length(path: Path) -> int:
    """Length of an 8 kHz 16-bit mono WAV in samples. Raises FileNotFoundError, or SoundError for a file
    Asterisk's wav format cannot play."""
    stat = os.stat(path)
    return _length(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _length(path: str, size: int, mtime_ns: int) -> int:
    try:
        with wave.open(path, "rb") as wav:
            _check(wav, path)
            return wav.getnframes()
    except (wave.Error, EOFError) as exc:
        raise SoundError(f"{path} is not a WAV file Asterisk can play ({exc})") from None


def _check(wav: wave.Wave_read, path: str) -> None:
    shape = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
    if shape != (SAMPLE_RATE, 2, 1):
        raise SoundError(
            f"{path} is {shape[0]} Hz, {8 * shape[1]}-bit, {shape[2]} channel(s): Asterisk's wav "
            "format needs 8000 Hz 16-bit mono"
        )


def read_samples(path: Path) -> array:
    """The samples of an 8 kHz 16-bit mono WAV. Raises FileNotFoundError or SoundError."""
    try:
        with wave.open(str(path), "rb") as wav:
            _check(wav, str(path))
            return _samples(wav.readframes(wav.getnframes()))
    except (wave.Error, EOFError) as exc:
        raise SoundError(f"{path} is not a WAV file ({exc})") from None


def _samples(data: bytes) -> array:
    samples = array("h")
    samples.frombytes(data[: len(data) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def write_wav(path: Path, samples: array) -> None:
    """Write samples as an 8 kHz 16-bit mono WAV (what RECORD FILE ... wav writes)."""
    data = array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(data.tobytes())


@dataclass(frozen=True)
class Speech:
    """What the caller says into a recording: its samples and, per 20 ms frame, whether it is silence."""

    samples: array
    silent: tuple[bool, ...]


def speech(source: Tone | AudioFile) -> Speech:
    """The caller's audio for a `say` step. Raises SoundError (or FileNotFoundError) for a bad file."""
    if isinstance(source, Tone):
        return _tone(source.samples)
    stat = os.stat(source.path)
    return _file_speech(str(source.path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _tone(count: int) -> Speech:
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    samples = array("h", (round(TONE_AMPLITUDE * math.sin(step * n)) for n in range(count)))
    return Speech(samples, silent_frames(samples))


@lru_cache(maxsize=64)
def _file_speech(path: str, size: int, mtime_ns: int) -> Speech:
    try:
        samples = read_samples(Path(path))
    except SoundError:
        samples = _convert(path)
    return Speech(samples, silent_frames(samples))


def _convert(path: str) -> array:
    """Any audio file ffmpeg reads, as 8 kHz 16-bit mono samples."""
    try:
        result = subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-i",
                path,
                "-f",
                "s16le",
                "-ac",
                "1",
                "-ar",
                str(SAMPLE_RATE),
                "-",
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
    except FileNotFoundError:
        raise SoundError(f"cannot convert {path}: ffmpeg is not installed") from None
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise SoundError(f"ffmpeg cannot read {path}: {message[0]}") from None
    return _samples(result.stdout)  # s16le: little-endian, as in a WAV


def silent_frames(samples: array) -> tuple[bool, ...]:
    """Per 20 ms frame (the last one padded with silence): True when Asterisk's DSP calls it silence."""
    flags = []
    for start in range(0, len(samples), FRAME):
        frame = samples[start : start + FRAME]
        flags.append(sum(map(abs, frame)) / FRAME < SILENCE_THRESHOLD)
    return tuple(flags)
