"""What Asterisk plays for vmbox, as `vmbox doctor` checks it: the core sounds vmbox plays by name
(from Asterisk's sounds directory, in the channel's language) and vmbox's own prompts (played by
absolute path over FastAGI; read and served by vmbox over ARI)."""

from pathlib import Path

from ivr.config import Settings
from ivr.doctor_report import CORE_SOUNDS, PROMPTS_DIR, Result, failed, ok
from prompts.catalogue import CORE, SHIPPED, PromptCatalogue

# The core sounds vmbox plays by name: its prompts, the beep before a recording, the digits it says.
SOUNDS = [*sorted(set(CORE.values())), "beep", *(f"digits/{digit}" for digit in range(10))]
SHOWN = 5  # the names of missing files a line gives


def sounds_result(language: str, missing: list[str]) -> Result:
    if missing:
        return failed(
            "core sounds",
            f"Asterisk lacks {len(missing)} of the {len(SOUNDS)} core sounds vmbox plays, in its"
            f" language {language!r}: {_some(missing)}",
            CORE_SOUNDS,
        )
    return ok(
        "core sounds",
        f"Asterisk has the {len(SOUNDS)} core sounds vmbox plays, in its language {language!r}",
    )


def prompts_result(directory: Path, failing: list[str], by_asterisk: bool) -> Result:
    """Whether Asterisk (FastAGI: it plays them by path) or vmbox (ARI) can read vmbox's prompts."""
    count = len(SHIPPED)
    if failing:
        who = "Asterisk cannot play" if by_asterisk else "vmbox cannot read"
        return failed(
            "vmbox prompts",
            f"{who} {len(failing)} of vmbox's {count} prompts in {directory}: {_some(failing)}",
            PROMPTS_DIR,
        )
    who = "Asterisk plays vmbox's" if by_asterisk else "vmbox reads its"
    return ok("vmbox prompts", f"{who} {count} prompts in {directory}")


def prompts_readable(settings: Settings) -> Result:
    """Over ARI vmbox reads its prompts itself (and serves them, or shares the directory)."""
    unreadable = []
    for name, path in prompt_paths(settings).items():
        try:
            with open(f"{path}.wav", "rb"):
                pass
        except OSError:
            unreadable.append(name)
    return prompts_result(prompts_dir(settings), unreadable, by_asterisk=False)


def prompts_dir(settings: Settings) -> Path:
    return PromptCatalogue(settings.ivr.prompts_dir or None).shipped_dir


def prompt_paths(settings: Settings) -> dict[str, str]:
    catalogue = PromptCatalogue(settings.ivr.prompts_dir or None)
    return {name: catalogue.sound(name) for name in sorted(SHIPPED)}


def _some(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (
        f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    )
