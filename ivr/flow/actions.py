"""Actions: what the flow asks a driver to do. Named as commands.

Channel actions (answer, play, collect, record, transfer, hang up) act on the call; store actions
(find a box, check a PIN, save a message, ...) go to the services every driver shares. Each non-final
action is answered by the event named in its comment.
"""

from dataclasses import dataclass

from ivr.flow.model import Audio, Recording

# Things to say, in order, in a Play or Collect.


@dataclass(frozen=True)
class Prompt:
    name: str  # a semantic prompt name, resolved by the prompt catalogue


@dataclass(frozen=True)
class Number:
    value: int


@dataclass(frozen=True)
class Digits:
    value: str  # spoken digit by digit


@dataclass(frozen=True)
class DateTime:
    unix: int
    timezone: str


@dataclass(frozen=True)
class Sound:
    audio: Audio  # a message, greeting or name recording


Say = Prompt | Number | Digits | DateTime | Sound


# Channel actions.


@dataclass(frozen=True)
class Answer:
    """-> Done"""


@dataclass(frozen=True)
class Play:
    """Say `items`; any of `escape` stops them. -> PlaybackStopped"""

    items: tuple[Say, ...]
    escape: str = ""


@dataclass(frozen=True)
class Collect:
    """Say `items` (a key cuts them short and counts as the first digit), then collect up to
    `max_digits` keys; `#` ends early. -> DigitsEntered"""

    items: tuple[Say, ...]
    max_digits: int
    first_timeout_ms: int
    next_timeout_ms: int


@dataclass(frozen=True)
class PlayAudio:
    """Play `audio` from `offset_ms`; any of `escape` stops it. -> PlaybackStopped (with the offset reached)"""

    audio: Audio
    offset_ms: int
    escape: str


@dataclass(frozen=True)
class Record:
    """Beep and record until a key, `silence_s` of silence or `max_s`. -> RecordingFinished"""

    max_s: int
    silence_s: int
    message_for: str | None = None  # the box a message is for (None: a greeting or a name)


@dataclass(frozen=True)
class Transfer:
    """Leave the flow for the dialplan: to the operator, or to call `number` back. Final."""

    reason: str  # "operator" | "callback"
    number: str


@dataclass(frozen=True)
class HangUp:
    """End the call. Final. `problem` is logged by the driver when the flow ended on something unexpected."""

    problem: str | None = None


@dataclass(frozen=True)
class End:
    """The caller is gone and the bookkeeping is done. Final; touches nothing."""


# Store actions.


@dataclass(frozen=True)
class FindBox:
    """The box with `mailbox` number, or (None) the one box whose owner is calling. -> BoxFound"""

    mailbox: str | None


@dataclass(frozen=True)
class CheckPin:
    """-> PinChecked (a locked-out box answers False whatever the PIN)"""

    box_id: str
    pin: str


@dataclass(frozen=True)
class LoadMessages:
    """The box's new and saved messages, in playing order. -> MessagesLoaded"""

    box_id: str
    oldest_first: bool


@dataclass(frozen=True)
class SaveMessage:
    """Keep `recording` as a new message of the box, from the caller. -> Done"""

    box_id: str
    recording: Recording


@dataclass(frozen=True)
class DiscardRecording:
    """-> Done"""

    recording: Recording


@dataclass(frozen=True)
class SetFolder:
    """-> Done"""

    box_id: str
    message_id: str
    folder: str  # "saved" | "deleted"


@dataclass(frozen=True)
class FindForwardTarget:
    """Whether the box with number `mailbox` (not the caller's own) may receive a forward.
    -> ForwardTargetFound"""

    box_id: str
    mailbox: str


@dataclass(frozen=True)
class ForwardMessage:
    """Copy a message into the box with number `mailbox` (not the caller's own), behind `comment` when
    there is one (the recording is then used up). -> Forwarded"""

    box_id: str
    message_id: str
    mailbox: str
    comment: Recording | None = None


@dataclass(frozen=True)
class SaveGreeting:
    """Make `recording` the box's greeting of `kind` (unavailable, temporary, name). -> Done"""

    box_id: str
    kind: str
    recording: Recording


@dataclass(frozen=True)
class RemoveGreeting:
    """-> Done"""

    box_id: str
    kind: str


@dataclass(frozen=True)
class SetPin:
    """-> Done"""

    box_id: str
    pin: str


@dataclass(frozen=True)
class SetAnnouncementOnly:
    """Make the box announcement only (`on`: callers hear its greeting and leave no message), or
    not. -> AnnouncementSet"""

    box_id: str
    on: bool


@dataclass(frozen=True)
class ReportFull:
    """A caller found the box full: tell its owner (the services limit this to once an hour). -> Done"""

    box_id: str


@dataclass(frozen=True)
class CompleteSetup:
    """Mark the box set up (is_setup). -> Done"""

    box_id: str


CHANNEL_ACTIONS = (Answer, Play, Collect, PlayAudio, Record, Transfer, HangUp)
FINAL_ACTIONS = (Transfer, HangUp, End)
Action = (
    Answer
    | Play
    | Collect
    | PlayAudio
    | Record
    | Transfer
    | HangUp
    | End
    | FindBox
    | CheckPin
    | LoadMessages
    | SaveMessage
    | DiscardRecording
    | SetFolder
    | FindForwardTarget
    | ForwardMessage
    | SaveGreeting
    | RemoveGreeting
    | SetPin
    | SetAnnouncementOnly
    | CompleteSetup
    | ReportFull
)
