"""The systems bench_real_asterisk calls and what each is given: the mailboxes and messages of vmbox (over
its API) and of app_voicemail (its voicemail.conf and spool, written before its Asterisk starts), the
dialplan that reaches app_voicemail, and what a finished call must have left in each store."""

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tests.asterisk.vmbox import Vmbox
from tests.bench.real_calls import PIN, SEEK_S, Caller

DEPOSIT_BOX, CHECK_BOX = 4000, 5000  # the first mailbox of each kind, on every system
# Caller IDs; the owner calls from a phone vmbox does not match to the box, so the PIN is asked.
DEPOSITOR, OWNER = '"Bob" <5551234>', '"Alice" <1001>'
AVM_CONTEXTS = """
[bench-avm-leave]
; Leave a message with app_voicemail. Parameters: ${EXTEN} = the mailbox.
exten => _X.,1,Answer()
 same => n,VoiceMail(${EXTEN}@default,u)
 same => n,Hangup()

[bench-avm-check]
; Check a mailbox with app_voicemail. Parameters: ${EXTEN} = the mailbox.
exten => _X.,1,Answer()
 same => n,VoiceMailMain(${EXTEN}@default)
 same => n,Hangup()
"""
AVM_GENERAL = f"""\
[general]
format = wav
review = yes
saycid = yes
envelope = yes
sayduration = no
skipms = {SEEK_S * 1000}
maxsilence = 5
maxsecs = 500

[default]
"""


@dataclass(frozen=True)
class Plan:
    """What every system is given: the calls, the message length and the caller's speech (also the
    audio of the message each checked box holds)."""

    calls: int
    message_s: float
    said: Path

    @property
    def boxes(self) -> int:
        return self.calls // 2

    def calls_to_place(self) -> list["Call"]:
        """Deposits and checks, interleaved (placed in this order, all at once)."""
        return [
            Call(kind, str(first + n))
            for n in range(self.boxes)
            for kind, first in (("deposit", DEPOSIT_BOX), ("check", CHECK_BOX))
        ]


@dataclass
class Call:
    kind: str  # deposit, check
    mailbox: str
    caller: Caller | None = None
    failure: str = ""
    seconds: float = 0.0  # from placing the call to its end


async def vmbox_boxes(vmbox: Vmbox, plan: Plan) -> dict[str, dict]:
    """The deposit boxes (empty) and the check boxes (PIN, ff/rw by SEEK_S, one new message), by mailbox."""
    boxes = {}
    for n in range(plan.boxes):
        mailbox = str(DEPOSIT_BOX + n)
        boxes[mailbox] = await vmbox.api.create_box(mailbox, media_extension="wav")
        mailbox = str(CHECK_BOX + n)
        boxes[mailbox] = box = await vmbox.api.create_box(
            mailbox,
            pin=PIN,
            is_setup=True,
            is_voicemail_ff_rw_enabled=True,
            seek_duration_ms=SEEK_S * 1000,
            media_extension="wav",
        )
        await vmbox.api.create_message(
            box["id"], plan.said, caller_id_number="5551234", caller_id_name="Bob"
        )
    return boxes


async def vmbox_missing(vmbox: Vmbox, boxes: dict[str, dict], call: Call, plan: Plan) -> str:
    """What a finished call should have left in vmbox's store and did not ("" if all is there)."""
    reply = await vmbox.api.get(f"/vmboxes/{boxes[call.mailbox]['id']}/messages?paginate=false")
    messages = reply.data if reply.status == 200 else []
    if call.kind == "deposit":
        kept = [m for m in messages if m.get("length", 0) >= (plan.message_s - 1.5) * 1000]
        return "" if kept else f"no message of {plan.message_s - 1.5:g} s stored: {messages}"
    folders = [m.get("folder") for m in messages]
    return "" if folders == ["saved"] else f"message folders {folders}, not saved"


def avm_config(plan: Plan) -> str:
    users = "".join(
        f"{first + n} => {PIN},Box {first + n}\n"
        for n in range(plan.boxes)
        for first in (DEPOSIT_BOX, CHECK_BOX)
    )
    return AVM_GENERAL + users


def avm_messages(spool: Path, plan: Plan) -> None:
    """One new message in each check box, as app_voicemail itself stores one."""
    now = int(time.time()) - 3600
    for n in range(plan.boxes):
        mailbox = str(CHECK_BOX + n)
        inbox = spool / mailbox / "INBOX"
        inbox.mkdir(parents=True)
        shutil.copyfile(plan.said, inbox / "msg0000.wav")
        (inbox / "msg0000.txt").write_text(
            "[message]\n"
            f"origmailbox={mailbox}\ncontext=bench-avm-leave\nmacrocontext=\nexten={mailbox}\n"
            f"rdnis=unknown\npriority=2\ncallerchan=Local/{mailbox}@bench-avm-leave-00000000;2\n"
            f'callerid="Bob" <5551234>\norigdate={time.ctime(now)}\norigtime={now}\n'
            f"category=\nmsg_id={now}-{n:08x}\nflag=\nduration={int(plan.message_s)}\n"
        )


def avm_missing(spool: Path, call: Call, plan: Plan) -> str:
    """What a finished call should have left in app_voicemail's spool and did not ("" if all is there)."""
    box = spool / call.mailbox
    if call.kind == "deposit":
        info = box / "INBOX" / "msg0000.txt"
        if not info.is_file():
            return "no message stored"
        duration = next(
            (
                int(line[9:])
                for line in info.read_text().splitlines()
                if line.startswith("duration=")
            ),
            0,
        )
        return "" if duration >= plan.message_s - 1.5 else f"a message of {duration} s stored"
    if (box / "Old" / "msg0000.txt").is_file() and not list((box / "INBOX").glob("msg*.txt")):
        return ""
    return "the message is not in Old"
