"""What the call flow knows about the world: plain frozen data that drivers and services hand it.

Nothing here refers to a file, socket or database: audio is an opaque `handle` the driver knows how
to play, boxes and messages are snapshots taken when the flow asked for them.
"""

import enum
from dataclasses import dataclass, field


class Purpose(enum.Enum):
    LEAVE = "leave"  # a caller leaves a message in `mailbox`
    CHECK = "check"  # an owner checks messages (mailbox known or asked)
    CALLBACK = "callback"  # a notified owner answered a callback call for `mailbox`


@dataclass(frozen=True)
class CallInfo:
    call_id: str  # the channel's unique id; every log line of the call carries it
    purpose: Purpose
    mailbox: str | None = None  # dialled or passed by the dialplan
    caller_number: str = ""
    caller_name: str = ""
    channel: str = ""  # e.g. PJSIP/1001-00000001
    operator: str | None = None  # the dialplan's operator extension, if any
    account_id: str = ""  # the tenant the call belongs to (the flow itself never needs it)
    find_own_box: bool = True  # checking without a mailbox: try the caller's own box before asking
    max_message_s: int | None = None  # the dialplan's max_message_length=: wins over the box's


@dataclass(frozen=True)
class Audio:
    """Something recorded that can be played: a message, a greeting, a name."""

    handle: str
    length_ms: int


@dataclass(frozen=True)
class Box:
    id: str
    mailbox: str
    is_owner: (
        bool  # the calling channel or number belongs to the box's owner (decided by the services)
    )
    has_pin: bool
    require_pin: bool = False
    check_if_owner: bool = True
    is_setup: bool = True
    announcement_only: bool = False
    skip_greeting: bool = False
    skip_instructions: bool = False
    skip_envelope: bool = False
    not_configurable: bool = False
    oldest_message_first: bool = False
    ff_rw_enabled: bool = False
    seek_ms: int = 10_000
    timezone: str = "UTC"
    operator_number: str | None = None
    unavailable_greeting: Audio | None = None
    temporary_greeting: Audio | None = None
    name: Audio | None = None  # the owner's name, recorded by phone or uploaded (media.name)
    message_count: int = 0  # new + saved
    max_message_count: int = 100  # 0: unlimited
    max_message_s: int | None = None  # the box's max_message_length; else [limits] max_message_s


@dataclass(frozen=True)
class Message:
    id: str
    folder: str
    received: int  # Unix seconds
    caller_number: str
    caller_name: str
    audio: Audio


@dataclass(frozen=True)
class Recording:
    """A recording just made on the channel, not yet kept anywhere."""

    handle: str
    length_ms: int


@dataclass(frozen=True)
class Keys:
    """The key map (KAZOO's names and defaults). '#' ends digit entry and leaves menus."""

    operator: str = "0"
    login: str = "*"
    save: str = "1"  # review menu after recording
    listen: str = "2"
    record: str = "3"
    hear_new: str = "1"  # main menu
    hear_saved: str = "2"
    configure: str = "5"
    exit: str = "#"
    record_unavailable: str = "1"  # configuration menu
    record_name: str = "2"
    set_pin: str = "3"
    record_temporary: str = "4"
    delete_temporary: str = "5"
    toggle_announcement_mode: str = "6"  # announcement only (no messages) on or off
    return_main_menu: str = "0"
    keep: str = "1"  # message menu
    replay: str = "2"
    forward: str = "3"
    prev: str = "4"
    next: str = "6"
    delete: str = "7"
    return_main: str = "0"
    callback: str = "9"
    fastforward: str = "8"
    rewind: str = "5"


@dataclass(frozen=True)
class Limits:
    max_login_attempts: int = 3  # mailbox and PIN failures share the count
    # Rounds of a menu without a valid choice before it gives up (a wrong key, or none in time):
    main_menu_rounds: int = 4  # KAZOO's; then goodbye
    review_rounds: int = 4  # KAZOO's, after a recording; then a message is kept, a greeting dropped
    options_rounds: int = 3  # KAZOO's; then goodbye
    menu_retries: int = 3  # the others: the message menu (KAZOO's has no end), forward, new PIN
    max_message_s: int = 500
    min_message_ms: int = 500
    silence_s: int = 5  # recording stops after this much silence
    max_greeting_s: int = 300
    first_digit_ms: int = 5000  # KAZOO's collect timeout
    next_digit_ms: int = 2000  # KAZOO's inter-digit timeout
    max_mailbox_digits: int = 15
    max_pin_digits: int = 6
    min_pin_digits: int = 4
    force_require_pin: bool = False


@dataclass(frozen=True)
class Settings:
    keys: Keys = field(default_factory=Keys)
    limits: Limits = field(default_factory=Limits)
    callback_enabled: bool = True  # the callback key calls the sender back (else "not available")
    # Forwarding offers to record a comment played before the message (KAZOO's prepend_forward).
    forward_comment: bool = False
