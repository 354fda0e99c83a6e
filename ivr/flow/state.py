"""The states of a call and the mutable record of one call's progress.

Every state names what the flow is waiting for; the table in `machine.py` says which event each
state accepts and what follows.
"""

import enum
from dataclasses import dataclass, field

from ivr.flow.model import Box, CallInfo, Message, Recording, Settings


class State(enum.Enum):
    STARTING = "starting"
    ANSWERING = "answering"
    ENDING = "ending"  # saying goodbye before hanging up
    # leaving a message
    FINDING_BOX = "finding box"
    GREETING = "greeting"
    ANNOUNCING = "announcing"  # announcement-only box
    REPORTING_FULL = "reporting full"  # box full: the owner is told ...
    FULL = "full"  # ... and the caller hears the greeting and the notice; nothing is recorded
    RECORDING = "recording"
    TOO_SHORT = "too short"  # the review went unanswered on a recording too short to keep
    REVIEWING = "reviewing"
    REVIEW_LISTENING = "review listening"
    RERECORDING = "rerecording"
    SAVING = "saving"
    SAVING_THEN_OPERATOR = "saving then operator"
    DROPPING_THEN_OPERATOR = "dropping then operator"  # 0 on a recording too short to keep
    SAVED = "saved"
    # after the caller hung up
    KEEPING = "keeping"  # saving what was recorded
    DROPPING = "dropping"  # discarding what was recorded
    # logging in
    FINDING_OWN_BOX = "finding own box"
    FINDING_CALLBACK_BOX = "finding callback box"
    ASKING_MAILBOX = "asking mailbox"
    FINDING_BOX_TO_CHECK = "finding box to check"
    ASKING_PIN = "asking pin"
    CHECKING_PIN = "checking pin"
    # first-time setup and PIN changes
    SETUP_INTRO = "setup intro"
    NEW_PIN = "new pin"
    CONFIRMING_PIN = "confirming pin"
    SETTING_PIN = "setting pin"
    PIN_SET = "pin set"
    COMPLETING_SETUP = "completing setup"
    SETUP_DONE = "setup done"
    # recording a greeting or name
    GREETING_INSTRUCTIONS = "greeting instructions"
    RECORDING_GREETING = "recording greeting"
    GREETING_REVIEW = "greeting review"
    GREETING_LISTENING = "greeting listening"
    SAVING_GREETING = "saving greeting"
    DROPPING_GREETING = "dropping greeting"
    REDOING_GREETING = "redoing greeting"
    GREETING_SAVED = "greeting saved"
    # the mailbox
    LOADING = "loading"
    MAIN_MENU = "main menu"
    ENVELOPE = "envelope"
    PLAYING = "playing"
    AFTER_ENVELOPE = "after envelope"
    MESSAGE_MENU = "message menu"
    FILING = "filing"
    FILED = "filed"
    NO_MORE = "no more"
    RETURNING = "returning"  # "saved", then the main menu
    ASKING_FORWARD = "asking forward"
    FINDING_FORWARD_TARGET = "finding forward target"
    FORWARD_MENU = "forward menu"  # with a comment first, as it is, or not at all
    COMMENT_INSTRUCTIONS = "comment instructions"
    RECORDING_COMMENT = "recording comment"
    COMMENT_REVIEW = "comment review"
    COMMENT_LISTENING = "comment listening"
    REDOING_COMMENT = "redoing comment"
    DROPPING_COMMENT = "dropping comment"
    FORWARDING = "forwarding"
    # the configuration menu
    OPTIONS_MENU = "options menu"
    REMOVING_TEMPORARY = "removing temporary"
    TEMPORARY_REMOVED = "temporary removed"
    SETTING_ANNOUNCEMENT = "setting announcement"  # announcement only turned on or off ...
    ANNOUNCEMENT_SET = "announcement set"  # ... and "saved"
    FINISHED = "finished"


@dataclass
class CallState:
    """One call's progress. Only the flow's handlers change it."""

    call: CallInfo
    settings: Settings
    state: State = State.STARTING
    box: Box | None = None
    hung_up: bool = False
    login_failures: int = 0
    menu_failures: int = 0
    # the message, greeting or forward comment just recorded, not yet kept
    recording: Recording | None = None
    then_operator: bool = False  # after keeping (or dropping) the message, transfer to the operator
    greeting_kind: str = ""  # unavailable | name | temporary, while recording one
    forward_to: str = (
        ""  # the mailbox a message goes to, while its comment is recorded and reviewed
    )
    in_setup: bool = False  # inside the first-time setup wizard
    new_pin: str = ""
    counts: tuple[int, int] = (0, 0)  # new, saved
    new: tuple[Message, ...] = ()
    saved: tuple[Message, ...] = ()
    playlist: tuple[Message, ...] = ()
    index: int = 0
    # ids of the playlist's messages deleted in this call: previous and next skip them
    deleted: set[str] = field(default_factory=set)
    filed_as: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> Message:
        return self.playlist[self.index]
