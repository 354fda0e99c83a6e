"""Events: what happened, told to the flow by a driver. Named in the past tense.

Every action but the terminal ones is answered by exactly one event; `CallerHungUp` may answer any
of them instead, and after it the flow asks only for bookkeeping (saving a recording), never for
anything on the channel.
"""

from dataclasses import dataclass

from ivr.flow.model import Box, CallInfo, Message, Recording


@dataclass(frozen=True)
class CallStarted:
    call: CallInfo


@dataclass(frozen=True)
class Done:
    """An action without a result (answer, a store change) completed."""


@dataclass(frozen=True)
class PlaybackStopped:
    """Prompts or audio ended: by themselves (`digit` None) or at a key press, `offset_ms` into the audio."""

    digit: str | None = None
    offset_ms: int = 0


@dataclass(frozen=True)
class DigitsEntered:
    """Digits collected; `timed_out` when the caller stopped without `#` or filling the maximum."""

    digits: str
    timed_out: bool = False


@dataclass(frozen=True)
class RecordingFinished:
    """A recording ended (key, silence or limit); `recording` None if nothing could be recorded.
    `hung_up`: the caller hung up during it, and the partial recording is what there is."""

    recording: Recording | None
    hung_up: bool = False


@dataclass(frozen=True)
class BoxFound:
    box: Box | None


@dataclass(frozen=True)
class PinChecked:
    ok: bool


@dataclass(frozen=True)
class MessagesLoaded:
    new: tuple[Message, ...]
    saved: tuple[Message, ...]


@dataclass(frozen=True)
class ForwardTargetFound:
    ok: bool  # False: no such mailbox, or the caller's own


@dataclass(frozen=True)
class Forwarded:
    ok: bool  # False: no such mailbox, or the caller's own


@dataclass(frozen=True)
class AnnouncementSet:
    ok: bool  # False: the box could not be changed (it is as it was)


@dataclass(frozen=True)
class CallerHungUp:
    pass


Event = (
    CallStarted
    | Done
    | PlaybackStopped
    | DigitsEntered
    | RecordingFinished
    | BoxFound
    | PinChecked
    | MessagesLoaded
    | ForwardTargetFound
    | Forwarded
    | AnnouncementSet
    | CallerHungUp
)
