"""What `vmbox doctor` finds, and how it prints it: one line per check, OK or what is wrong, and for what
is wrong the line of asterisk_conf/README.md that fixes it.

A fix is named by a text that one line of the README holds (and no other line: a test checks it). The
line's number is looked up in the README when the doctor runs, so moving the text never leaves a
stale number behind; the line itself is printed too, so the reference reads on its own.
"""

from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "asterisk_conf" / "README.md"
README_NAME = "asterisk_conf/README.md"

# What fixes each problem: a text of one README line.
AMI_ENABLED = "`manager.conf`'s `[general]` has `enabled = yes`"
AMI_SECRET = "Put a secret of your own in `manager_vmbox.conf` and in vmbox's settings"
AMI_HOST = "# empty: no callback calls, no lamps"
CALLBACK_CONTEXT = 'callback_context = "vmbox-callback"'
WRITE_ORIGINATE = "| `write = originate` |"
READ_CALL = "| `read = call` |"
WRITE_CALL = "| `write = call` |"
LOAD_MWI = "load => res_mwi_external.so"
LOAD_MWI_AMI = "load => res_mwi_external_ami.so"
LOAD_ARI_MAILBOXES = "load => res_ari_mailboxes.so"
NOLOAD_VOICEMAIL = "noload => app_voicemail.so"
INCLUDE_DIALPLAN = '#include "extensions_vmbox.conf"'
INCLUDE_ARI_DIALPLAN = '**Dialplan**: `#include "extensions_vmbox_ari.conf"`'
DOCTOR_CONTEXT = "lacks `[vmbox-doctor]`"
AGI_ADDRESS = "| `VMBOX_AGI` | `agi://127.0.0.1:4573` |"
SAME_PATH = "**the same directories, under the same paths**"
ASTERISK_WRITES = "(usually user `asterisk`) writes the recordings directory"
PERMISSIONS = "give them those permissions"
CORE_SOUNDS = "On Debian: `apt install asterisk-core-sounds-en-wav"
PROMPTS_DIR = "and point vmbox at it: `[ivr] prompts_dir`"
ARI_HTTP = "**HTTP server** (`http.conf` `[general]`): `enabled = yes`"
ARI_PASSWORD = "the same in vmbox's `[ari] password`"
ARI_APPLICATION = "`STASISSTATUS=FAILED` after `Stasis()` means"
PROBE_REACH = "when the probe call never reaches the doctor"

FIXES = (
    AMI_ENABLED,
    AMI_SECRET,
    AMI_HOST,
    CALLBACK_CONTEXT,
    WRITE_ORIGINATE,
    READ_CALL,
    WRITE_CALL,
    LOAD_MWI,
    LOAD_MWI_AMI,
    LOAD_ARI_MAILBOXES,
    NOLOAD_VOICEMAIL,
    INCLUDE_DIALPLAN,
    INCLUDE_ARI_DIALPLAN,
    DOCTOR_CONTEXT,
    AGI_ADDRESS,
    SAME_PATH,
    ASTERISK_WRITES,
    PERMISSIONS,
    CORE_SOUNDS,
    PROMPTS_DIR,
    ARI_HTTP,
    ARI_PASSWORD,
    ARI_APPLICATION,
    PROBE_REACH,
)

# The checks, in the order they are printed.
CHECKS = (
    "AMI login",
    "AMI rights",
    "AMI events",
    "ARI login",
    "ARI application",
    "lamps",
    "dialplan",
    "FastAGI",
    "recordings",
    "core sounds",
    "vmbox prompts",
)


@dataclass(frozen=True)
class Result:
    """One check's outcome: `passed` True (OK), False (FAIL), or None (SKIP: not made, `text` says why)."""

    check: str
    passed: bool | None
    text: str
    fix: str | None = None  # for a failure: the README text that fixes it


def ok(check: str, text: str) -> Result:
    return Result(check, True, text)


def failed(check: str, text: str, fix: str) -> Result:
    return Result(check, False, text, fix)


def skipped(check: str, text: str) -> Result:
    return Result(check, None, text)


def cite(fix: str, readme: Path = README) -> str:
    """`see asterisk_conf/README.md line N: <that line>` for the first line holding `fix`."""
    try:
        lines = readme.read_text().splitlines()
    except OSError:  # vmbox installed without its source tree: name the text instead
        return f"see {README_NAME}: {fix}"
    for number, line in enumerate(lines, 1):
        if fix in line:
            return f"see {README_NAME} line {number}: {line.strip()}"
    return f"see {README_NAME}: {fix}"


def line(result: Result) -> str:
    """The printed line of `result`."""
    status = {True: "OK", False: "FAIL", None: "SKIP"}[result.passed]
    text = f"{status:<4}  {result.check}: {result.text}"
    return f"{text}; {cite(result.fix)}" if result.fix else text


def report(results: dict[str, Result]) -> tuple[list[str], int]:
    """The lines to print (one per check, in CHECKS order, then a summary) and the exit status: 0 when
    no check failed, else 1."""
    ordered = [results[check] for check in CHECKS if check in results]
    failures = sum(result.passed is False for result in ordered)
    made = sum(result.passed is not None for result in ordered)
    summary = (
        f"vmbox doctor: {failures} of {made} checks failed"
        if failures
        else f"vmbox doctor: all {made} checks passed"
    ) + f", {len(ordered) - made} skipped"
    return [*map(line, ordered), summary], 1 if failures else 0
