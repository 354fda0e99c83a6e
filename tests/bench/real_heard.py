"""What the audio each caller heard shows, for bench_real_asterisk: the message as heard (its stretches
and jumps), where each known sound was heard, and the prompt-to-prompt gaps, as bench_real_asterisk's
docstring defines them.

What the audio shows has limits, seen on Asterisk 22.10.1: MixMonitor's recording of what a caller hears
holds the far end's audio up to 80 ms while it waits for the caller's side (audiohook.c), records
nothing while neither side sends audio (the caller pressing keys while the far end waits for them), and
loses a few samples when it resynchronises its two directions. Asterisk plays every WAV file short by
its header's size (format_wav.c counts the data size from the start of the file): 22 samples of a
44-byte header. So sounds are found by several snippets, no later than the log says they started,
their ends are taken from what was heard, and a gap is measured only where both ends are in the
recording.
"""

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tests.asterisk.heard import (
    BLOCK,
    RATE,
    SNIPPET,
    Heard,
    Run,
    core_sounds,
    pcm,
    vmbox_prompts,
)
from tests.asterisk.install import SOUNDS
from tests.bench.real_calls import AUDIO, BACK, FORWARD, Event

MIN_SEGMENT_S = 0.1  # a stretch of the message shorter than this is a chance match, not playback
# A sound heard from this close to its first sample is heard from its start; to this close to its last, to
# its end (one frame: MixMonitor may hold a sound's last partial frame until more audio comes).
TOLERANCE_S, END_TOLERANCE_S = 0.01, 0.025
SLACK_S = 0.25  # how much later than the log says a sound may start in the recording


@dataclass(frozen=True)
class Segment:
    """A stretch of the message heard without a break or a seek (seconds)."""

    heard_s: float
    heard_end_s: float
    source_s: float
    source_end_s: float


def segments(heard: Heard, message: bytes) -> list[Segment]:
    """The message as heard, cut where it was stopped or moved (a seek, a restart elsewhere)."""
    found: list[Segment] = []
    for run in heard.runs_of(message):
        if run.length_s < MIN_SEGMENT_S:
            continue
        end = heard_end(heard.audio, message, run)
        if found and _continues(found[-1], run):
            last = found[-1]
            found[-1] = Segment(last.heard_s, end, last.source_s, run.source_end_s)
        else:
            found.append(Segment(run.heard_s, end, run.source_s, run.source_end_s))
    return found


def heard_end(audio: bytes, source: bytes, run: Run) -> float:
    """Where the last samples of `run` (a run of `source` found in `audio`) were heard, in seconds.
    Heard.runs_of joins runs across a lost frame and then reports the run as long as the stretch of
    source it spans, so the end is looked for: the last frame of that stretch, at or before where the
    run says it ends."""
    said = round((run.heard_s + run.length_s) * RATE)
    last = round(run.source_end_s * RATE)
    block = source[max(0, last - BLOCK) * 2 : last * 2]
    lowest = max(0, said - RATE // 2) * 2
    at = audio.rfind(block, lowest, said * 2)
    while at > 0 and at % 2:
        at = audio.rfind(block, lowest, at + len(block) - 1)
    return said / RATE if at == -1 or at % 2 else (at + len(block)) / 2 / RATE


def _continues(segment: Segment, run: Run) -> bool:
    return abs((run.heard_s - run.source_s) - (segment.heard_s - segment.source_s)) < 0.005


def jumps(parts: list[Segment]) -> list[str]:
    """FORWARD or BACK for each place the message as heard moves in the message by a second or more."""
    moves = [
        after.source_s - before.source_end_s
        for before, after in zip(parts, parts[1:], strict=False)
    ]
    return [FORWARD if move > 0 else BACK for move in moves if abs(move) >= 1]


@cache
def _known(name: str) -> bytes | None:
    """The samples of the sound the switchboard calls `name` (an Asterisk sound or a vmbox prompt)."""
    sound = core_sounds().get(name) or vmbox_prompts().get(name)
    if sound is None and (SOUNDS / f"{name}.wav").is_file():
        sound = pcm(SOUNDS / f"{name}.wav")
    return sound


@cache
def _snippets(name: str) -> list[tuple[int, bytes]]:
    """(sample offset, 40 ms of the sound) at its first sample that is not zero (the faint noise most
    sounds open with), at its first loud sample, and at a quarter, half and three quarters of it: what
    the sound is found by, even when it was cut short or a few samples of it went missing."""
    sound = _known(name)
    samples = memoryview(sound).cast("h")
    first = next((i for i, value in enumerate(samples) if value), 0)
    loud = next((i for i, value in enumerate(samples) if abs(value) > 1000), first)
    offsets = {first, loud} | {len(samples) * quarter // 4 for quarter in (1, 2, 3)}
    return [
        (offset, sound[offset * 2 : (offset + SNIPPET) * 2])
        for offset in sorted(offsets)
        if offset + SNIPPET <= len(samples)
    ]


def _find(audio: bytes, snippet: bytes, from_sample: int) -> int | None:
    """The first sample offset >= from_sample at which `snippet` occurs in `audio`."""
    at = audio.find(snippet, max(0, from_sample) * 2)
    while at != -1 and at % 2:
        at = audio.find(snippet, at + 1)
    return None if at == -1 else at // 2


@dataclass(frozen=True)
class Place:
    """Where a sound was heard (seconds into the call), and whether its first and its last samples
    (within TOLERANCE_S) are in the recording: only then is that start or end where the caller heard it."""

    start_s: float
    end_s: float
    clean_start: bool
    clean_end: bool


def locate(heard: Heard, name: str, after_s: float, latest_s: float | None = None) -> Place | None:
    """Where the caller heard sound `name` (the first time it starts after `after_s`, and by `latest_s`
    when given); None if it is not found. MixMonitor's recording loses a few samples now and then (its two directions are
    resynchronised by flushing): the sound is looked for by each of its snippets, and its start and end
    are those of the stretches of it heard there, each matched sample for sample."""
    sound = _known(name)
    if sound is None:
        return None
    after = round(after_s * RATE) + 1
    guesses = {
        at - offset
        for offset, snippet in _snippets(name)
        if (at := _find(heard.audio, snippet, after + offset)) is not None
    }
    latest = len(heard.audio) if latest_s is None else latest_s * RATE
    return next(
        (
            place
            for guess in sorted(guesses)
            if guess <= latest and (place := _place(heard, sound, guess))
        ),
        None,
    )


def _place(heard: Heard, sound: bytes, guess: int) -> Place | None:
    """The Place of `sound` heard from about sample `guess`, if stretches of it are heard there."""
    begin = max(0, guess - RATE // 10)
    window = Heard(heard.audio[begin * 2 : (guess + len(sound) // 2 + RATE // 2) * 2])
    runs = [
        run
        for run in window.runs_of(sound)
        if abs(run.heard_s - run.source_s - (guess - begin) / RATE) < 0.05
    ]
    if not runs:
        return None
    last = max(runs, key=lambda run: run.heard_s + run.length_s)
    offset = begin / RATE
    return Place(
        offset + runs[0].heard_s - runs[0].source_s,
        offset + heard_end(window.audio, sound, last),
        runs[0].source_s <= TOLERANCE_S,
        last.source_end_s >= len(sound) / 2 / RATE - END_TOLERANCE_S,
    )


@dataclass
class Gaps:
    heard: list[float] = field(default_factory=list)  # seconds, from the audio the caller heard
    logged: list[float] = field(default_factory=list)  # seconds, from Asterisk's log (see gaps())
    unmatched: int = 0  # pairs whose sounds were not both found in what the caller heard

    def add(self, other: "Gaps") -> None:
        self.heard += other.heard
        self.logged += other.logged
        self.unmatched += other.unmatched


def gaps(events: list[Event], heard: Heard, parts: list[Segment]) -> Gaps:
    """The prompt-to-prompt gaps of one call, heard and logged (bench_real_asterisk's docstring). Each
    sound is looked for after the one before it and no later than the log says it started (plus
    SLACK_S), counted from the last sound found: the recording only ever loses time."""
    result = Gaps()
    played = [(index, event) for index, event in enumerate(events) if event.kind == "played"]
    places: list[Place | None] = []
    cursor, anchor = -1.0, None  # the last sound found: where it was heard, when it was logged
    for _, event in played:
        latest = anchor[0] + event.at - anchor[1] + SLACK_S if anchor else None
        if event.value == AUDIO:
            part = next((p for p in parts if cursor < p.heard_s <= (latest or p.heard_s)), None)
            place = part and Place(
                part.heard_s, part.heard_end_s, part.source_s <= TOLERANCE_S, True
            )
        else:
            place = locate(heard, event.value, cursor, latest)
        places.append(place)
        if place:
            cursor, anchor = place.start_s, (place.start_s, event.at)
    for (first, a), (second, b), place_a, place_b in zip(
        played, played[1:], places, places[1:], strict=False
    ):
        if any(event.kind == "key" for event in events[first:second]):
            continue
        audio = a.value == AUDIO
        end_a = place_a and (
            _message_end(parts, place_a.start_s, place_b.start_s)
            if audio and place_b
            else place_a.end_s
        )
        if not (place_b and place_b.clean_start and end_a and (audio or place_a.clean_end)):
            result.unmatched += 1
            continue
        gap = place_b.start_s - end_a
        if gap < -END_TOLERANCE_S:
            result.unmatched += 1
            continue
        result.heard.append(max(0.0, gap))
        if not audio:
            result.logged.append(max(0.0, b.at - a.at - played_s(a.value)))
    return result


@cache
def played_s(name: str) -> float:
    """How long Asterisk plays sound `name`: its samples less its WAV header's size (format_wav.c stops
    reading at the data chunk's size counted from the start of the file)."""
    path = SOUNDS / f"{name}.wav"
    if not path.is_file():
        path = Path(__file__).resolve().parents[2] / "prompts" / "en" / f"{name}.wav"
    data = path.read_bytes()
    samples = len(_known(name)) // 2
    header = data.find(b"data") + 8
    return (samples - header // 2) / RATE


def _message_end(parts: list[Segment], start: float, before: float) -> float | None:
    """The end of the last stretch of the message heard from `start` and before `before`."""
    ends = [
        part.heard_end_s
        for part in parts
        if part.heard_s >= start and part.heard_end_s <= before + 0.01
    ]
    return max(ends, default=None)
