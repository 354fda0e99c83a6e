"""The prompt catalogue: the call flow's semantic prompt names to what STREAM FILE plays.

Rules:
- Asterisk's English core sounds (Debian's asterisk-core-sounds-en-wav) are preferred. They are named
  relatively (`vm-goodbye`), so Asterisk plays them from its own sounds directory, in the channel's
  language.
- Core prompts that announce app_voicemail's keys or "Comedian Mail" (vm-login, vm-options,
  vm-instructions, ...) are never used: our menus follow KAZOO's keys. Where no core prompt says the
  right thing, vmbox ships its own 8 kHz WAV in `prompts/en/<name>.wav`, made from `prompts/en/texts.tsv`
  by `prompts/make_prompts.sh`, and played by absolute path (without extension), so that directory must
  be readable by Asterisk.
"""

from pathlib import Path
from types import MappingProxyType

# Semantic name -> Asterisk core sound (relative name, played from Asterisk's sounds directory).
CORE = MappingProxyType(
    {
        "and": "vm-and",
        "callback_no_number": "unidentified-no-callback",  # "...withheld and therefore cannot be called back"
        "callback_not_available": "feature-not-avail-line",  # "That feature is not available on this line."
        "enter_pin": "vm-password",  # "password"
        "from": "vm-from",
        "goodbye": "vm-goodbye",
        "invalid_choice": "vm-sorry",  # "I'm sorry I did not understand your response."
        "is_unavailable": "vm-isunavail",
        "leave_message_instructions": "vm-intro",  # "...after the tone. When done hang up or press the pound key."
        "login_incorrect": "vm-incorrect",
        "mailbox_full": "vm-mailboxfull",
        "message": "vm-message",
        "message_deleted": "vm-deleted",
        "message_number": "vm-message",  # "message" followed by the spoken number
        "message_saved": "vm-msgsaved",
        "message_too_short": "vm-tooshort",
        "messages": "vm-messages",
        "new": "vm-INBOX",  # "new"
        "new_pin": "vm-newpassword",
        "no": "vm-no",
        "no_more_messages": "vm-nomore",
        "nobody_available": "vm-nobodyavail",
        "person_at_extension": "vm-theperson",
        "pin_changed": "vm-passchanged",
        "pin_invalid": "vm-invalid-password",  # "...does not meet the minimum requirements... Please try again."
        "pin_mismatch": "vm-mismatch",
        "received": "vm-received",
        "record_comment": "vm-record-prepend",  # "At the tone, please record an introduction to ..."
        "record_name": "vm-rec-name",
        "record_temporary": "vm-rec-temp",
        "record_unavailable": "vm-rec-unv",
        "reenter_pin": "vm-reenterpassword",
        "review_operator": "vm-reachoper",  # "press 0 to reach an operator": our 0 saves, then the operator
        "review_recording": "vm-review",  # "press 1 to accept... 2 to listen... 3 to rerecord": our keys too
        "saved": "vm-saved",
        "temporary_removed": "vm-tempremoved",
        "unknown_caller": "vm-unknown-caller",  # "from an unknown caller"
        "you_have": "vm-youhave",
    }
)

# Semantic names vmbox ships itself, as `<shipped dir>/<name>.wav` (texts in prompts/en/texts.tsv).
SHIPPED = frozenset(
    {
        "enter_forward_mailbox",
        "forward_menu",
        "enter_mailbox",
        "greeting_not_saved",
        "greeting_saved",
        "invalid_mailbox",
        "main_menu",
        "main_menu_fixed",
        "message_forwarded",
        "message_menu",
        "message_menu_ffrw",
        "no_access",
        "options_menu",
        "options_menu_announcement_on",
        "setup_complete",
        "setup_intro",
    }
)

DEFAULT_DIRECTORY = Path(__file__).parent / "en"  # __file__ is absolute: no I/O here


class PromptCatalogue:
    """Resolves semantic prompt names to STREAM FILE arguments. Touches no file: what Asterisk cannot
    find it reports as a playback failure, and the tests check that every file exists."""

    def __init__(self, shipped_dir: str | Path | None = None):
        """`shipped_dir`: where vmbox's own prompts are, as Asterisk sees them (None: the package's
        prompts/en); made absolute, because Asterisk resolves relative names under its sounds directory."""
        self.shipped_dir = Path(shipped_dir or DEFAULT_DIRECTORY).absolute()

    def sound(self, name: str) -> str:
        """The STREAM FILE argument for prompt `name`: a core sound name or an absolute path without
        extension. Raises KeyError for a name the catalogue does not know."""
        if name in CORE:
            return CORE[name]
        if name in SHIPPED:
            return str(self.shipped_dir / name)
        raise KeyError(
            f"unknown prompt {name!r}: add it to prompts/catalogue.py"
            f" (a core sound in CORE, or a shipped prompt in SHIPPED and prompts/en/texts.tsv)"
        )

    def names(self) -> frozenset[str]:
        """Every prompt name the catalogue resolves."""
        return frozenset(CORE) | SHIPPED

    def is_shipped(self, name: str) -> bool:
        """True when `name` is one of vmbox's own prompts rather than an Asterisk core sound."""
        return name in SHIPPED
