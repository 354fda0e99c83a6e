"""What a caller heard, as audio: the r() file MixMonitor wrote on the caller's side (8 kHz 16-bit mono,
in real time, silence where nothing was sent). Audio through Local channels is passed sample for
sample, so every sound Asterisk played is found in it exactly: a known sound by a short stretch of its
samples, a message by where each stretch of it sits in the message (which shows every seek)."""

import struct
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.asterisk.install import SOUNDS

RATE = 8000
BLOCK = 160  # samples: 20 ms, Asterisk's frame
SNIPPET = 320  # samples that identify a sound: 40 ms from its first loud sample
LOUD = 1000


def pcm(path: Path) -> bytes:
    """The samples of a 16-bit mono WAV file (read to its end, whatever its header says: MixMonitor's
    sizes are only right once it has closed the file)."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAV file")
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if kind == b"data":
            body = data[at + 8 :]
            return body[: len(body) // 2 * 2]
        at += 8 + size + (size & 1)
    raise ValueError(f"{path} has no data chunk")


def write_wav(path: Path, audio: bytes) -> Path:
    """Write 8 kHz 16-bit mono samples as a WAV file (what Asterisk plays as is)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio)
    return path


def _loud_start(audio: bytes) -> int | None:
    samples = memoryview(audio).cast("h")
    return next((i for i, value in enumerate(samples) if abs(value) > LOUD), None)


def _find_all(haystack: bytes, needle: bytes) -> list[int]:
    """Sample offsets (even byte offsets / 2) where `needle` occurs in `haystack`."""
    found, at = [], haystack.find(needle)
    while at != -1:
        if at % 2 == 0:
            found.append(at // 2)
        at = haystack.find(needle, at + 1)
    return found


@dataclass(frozen=True)
class Run:
    """A stretch of a source (a message) heard without a break: where in the call and where in the source."""

    heard_s: float
    source_s: float
    length_s: float

    @property
    def source_end_s(self) -> float:
        return self.source_s + self.length_s


@dataclass(frozen=True)
class Heard:
    audio: bytes

    @property
    def seconds(self) -> float:
        return len(self.audio) / 2 / RATE

    def starts_of(self, sound: bytes) -> list[float]:
        """The times (s into the call) at which `sound` started to be heard. A sound is found by any of
        a few 40 ms stretches of it, 100 ms apart from its first loud sample: MixMonitor drops a few
        samples now and then (after a key, seen), which can break one stretch but not all."""
        start = _loud_start(sound)
        if start is None:
            return []
        found: list[float] = []
        for skip in range(start, min(start + 4 * 800, len(sound) // 2 - SNIPPET + 1), 800):
            snippet = sound[skip * 2 : (skip + SNIPPET) * 2]
            found += [(at - skip) / RATE for at in _find_all(self.audio, snippet) if at >= skip]
        starts: list[float] = []
        for at in sorted(found):
            if not starts or at - starts[-1] > 0.05:
                starts.append(at)
        return starts

    def resembles(self, sound: bytes, at_least: float = 0.95) -> list[float]:
        """The times (s into the call) at which something with `sound`'s loudness, 10 ms by 10 ms,
        was heard (Pearson correlation of the two envelopes at least `at_least`): for audio that was
        transcoded or resampled on its way (an ARI-originated Local channel runs at slin192), where
        `starts_of` finds nothing exact."""
        theirs, mine = _envelope(sound), _envelope(self.audio)
        if len(theirs) < 20 or len(mine) < len(theirs):
            return []
        found = []
        for at in range(len(mine) - len(theirs) + 1):
            if _correlation(theirs, mine[at : at + len(theirs)]) >= at_least:
                if not found or at - found[-1] > len(theirs):
                    found.append(at)
        return [at * STEP / RATE for at in found]

    def sounds(self, catalogue: dict[str, bytes]) -> list[tuple[float, str]]:
        """Every sound of `catalogue` heard, as (time, name), in the order heard."""
        return sorted(
            (at, name) for name, sound in catalogue.items() for at in self.starts_of(sound)
        )

    def runs_of(self, source: bytes) -> list[Run]:
        """The stretches of `source` heard, in the order heard. `source` must not repeat itself (noise,
        speech): each 20 ms of it is found at one place."""
        runs: list[list[int]] = []  # [heard start, source start, samples]
        heard = memoryview(self.audio)
        for block in range(0, len(self.audio) // 2 - BLOCK + 1, BLOCK):
            piece = bytes(heard[block * 2 : (block + BLOCK) * 2])
            if piece.count(0) == len(piece):
                continue
            places = _find_all(source, piece)
            if len(places) != 1:
                continue
            place = places[0]
            if (
                runs
                and block - runs[-1][0] == place - runs[-1][1]
                and block <= runs[-1][0] + runs[-1][2]
            ):
                runs[-1][2] = block + BLOCK - runs[-1][0]
                continue
            runs.append([block, place, BLOCK])
        return _joined([self._widen(source, *run) for run in runs])

    def _widen(self, source: bytes, heard_at: int, source_at: int, length: int) -> Run:
        """A run grown sample by sample to where the heard audio and the source part."""
        mine, theirs = memoryview(self.audio).cast("h"), memoryview(source).cast("h")
        while heard_at > 0 and source_at > 0 and mine[heard_at - 1] == theirs[source_at - 1]:
            heard_at, source_at, length = heard_at - 1, source_at - 1, length + 1
        while (
            heard_at + length < len(mine)
            and source_at + length < len(theirs)
            and mine[heard_at + length] == theirs[source_at + length]
        ):
            length += 1
        return Run(heard_at / RATE, source_at / RATE, length / RATE)


STEP = 80  # samples: the envelope's 10 ms hop


def _envelope(audio: bytes) -> list[float]:
    """Mean absolute level of each 20 ms, every 10 ms."""
    samples = memoryview(audio).cast("h")
    return [
        sum(abs(value) for value in samples[at : at + 2 * STEP]) / (2 * STEP)
        for at in range(0, len(samples) - 2 * STEP + 1, STEP)
    ]


def _correlation(a: list[float], b: list[float]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    da, db = [x - mean_a for x in a], [y - mean_b for y in b]
    spread = (sum(x * x for x in da) * sum(y * y for y in db)) ** 0.5
    return sum(x * y for x, y in zip(da, db, strict=True)) / spread if spread else 0.0


SLIP_S = 0.1  # a jump this small is a frame lost on the way (seen: 15 ms), not a seek


def _joined(runs: list[Run]) -> list[Run]:
    """Runs joined across a frame lost on the way; runs of a single frame dropped (seen: FastAGI's
    STREAM FILE at an offset sends one 20 ms frame of the file's start first)."""
    joined: list[Run] = []
    for run in runs:
        if joined:
            last = joined[-1]
            slipped = run.source_s - last.source_end_s
            if 0 <= slipped < SLIP_S and run.heard_s - (last.heard_s + last.length_s) < SLIP_S:
                joined[-1] = Run(last.heard_s, last.source_s, run.source_end_s - last.source_s)
                continue
        joined.append(run)
    return [run for run in joined if run.length_s > BLOCK / RATE]


@cache
def core_sounds() -> dict[str, bytes]:
    """Asterisk's sounds vmbox plays (vm-*, digits/*, beep, ...), by the name Asterisk plays them by."""
    names = [path for path in SOUNDS.glob("*.wav")] + [
        path for path in (SOUNDS / "digits").glob("*.wav")
    ]
    return {str(path.relative_to(SOUNDS).with_suffix("")): pcm(path) for path in names}


@cache
def vmbox_prompts() -> dict[str, bytes]:
    """vmbox's own prompts (prompts/en), by name."""
    directory = Path(__file__).resolve().parents[2] / "prompts" / "en"
    return {path.stem: pcm(path) for path in directory.glob("*.wav")}
