"""Messages being recorded, journaled, so that one being left survives vmbox stopping or dying mid-call.

Before a driver starts recording a message it writes `<stem>.json` beside the recording in the
recordings directory: the account, box and caller the message is for. Once the call is over (the flow
kept or dropped the recording) the entry goes. An entry that remains belongs to a call vmbox did not
finish: stopped or killed while the caller spoke. Over FastAGI, Asterisk goes on recording after vmbox
has gone and leaves the file in the recordings directory; over ARI it keeps the recording until vmbox
fetches it. `recover` then keeps the recording as a message, as the flow keeps one after a hang-up: if it
lasts min_message_ms.

Rules:
- the entries of calls in progress in this process are never touched (`Journal.active`);
- a recording still being written is left alone: Asterisk writes a recording in progress many times a
  second, so one unchanged for SETTLE_S is finished;
- an entry whose recording never appears is dropped once no recording could still be going on
  (max_s + SETTLE_S after it was written).
"""

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ivr.calls import recorded, recording_stem
from ivr.flow.actions import SaveMessage
from ivr.flow.model import CallInfo, Purpose

logger = logging.getLogger(__name__)

SETTLE_S = 5.0
RECOVERY_INTERVAL_S = 10.0

# fetch(stem, path): copy the recording `stem` Asterisk holds to `path`: True when done, False when
# Asterisk holds no such recording, None when it could not be asked (the entry then waits).
Fetch = Callable[[str, Path], Awaitable[bool | None]]


@dataclass(frozen=True)
class Entry:
    """A message being recorded: for whom, from whom, since when."""

    account_id: str
    box_id: str
    call_id: str
    caller_number: str
    caller_name: str
    max_s: int
    written: float  # Unix time


class Journal:
    """The recordings directory's journal of messages being recorded."""

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time):
        self.directory = directory
        self.clock = clock
        self.active: set[str] = set()  # stems of recordings of calls in progress here

    def _entry_path(self, stem: str) -> Path:
        return self.directory / f"{stem}.json"

    def open(self, stem: str, call: CallInfo, box_id: str, max_s: int) -> None:
        """Note that the recording `stem` is a message for `box_id` (written whole, then renamed).

        Not fsynced: the entry has to outlive vmbox, not the machine. A power cut loses what Asterisk
        was recording too (it does not sync recordings), and an fsync per message on the event loop
        held up every other call when hundreds were left at once."""
        entry = Entry(
            call.account_id,
            box_id,
            call.call_id,
            call.caller_number,
            call.caller_name,
            max_s,
            self.clock(),
        )
        temporary = self._entry_path(stem).with_suffix(".json.tmp")
        temporary.write_text(json.dumps(asdict(entry)))
        temporary.replace(self._entry_path(stem))
        self.active.add(stem)

    def close(self, stem: str) -> None:
        """The call of recording `stem` is over: the flow kept or dropped it."""
        self._entry_path(stem).unlink(missing_ok=True)
        self.active.discard(stem)

    def release_call(self, call_id: str, recordings: int) -> None:
        """The call `call_id`, which made `recordings` recordings, is over here: whatever of its entries
        remain (a message still being recorded as vmbox stopped) is left to `recover`."""
        for number in range(1, recordings + 1):
            self.active.discard(recording_stem(call_id, number))

    def leftovers(self) -> list[tuple[str, Entry]]:
        """The entries of calls that were not finished (in this process or an earlier one)."""
        found = []
        for path in sorted(self.directory.glob("*.json")):
            stem = path.name.removesuffix(".json")
            if stem in self.active:
                continue
            try:
                found.append((stem, Entry(**json.loads(path.read_text()))))
            except (OSError, ValueError, TypeError) as exc:
                logger.error(
                    "recording journal entry %s is unreadable (%s): left as it is", path, exc
                )
        return found


async def recover(
    journal: Journal, services, min_message_ms: int, fetch: Fetch | None = None
) -> int:
    """Keep, as messages, the recordings of calls vmbox did not finish; how many were kept."""
    kept = 0
    for stem, entry in journal.leftovers():
        audio = journal.directory / f"{stem}.wav"
        if not audio.exists() and fetch is not None:
            fetched = await fetch(stem, audio)
            if fetched is None:
                continue  # Asterisk cannot be asked now
            if fetched:
                logger.info("recording %s of call %s fetched from Asterisk", stem, entry.call_id)
        now = journal.clock()
        if not audio.exists():
            if now - entry.written > entry.max_s + SETTLE_S:
                logger.warning("call %s: its recording %s never appeared", entry.call_id, stem)
                journal.close(stem)
            continue
        if now - audio.stat().st_mtime < SETTLE_S:
            continue  # Asterisk is still writing it
        recording = recorded(audio, entry.max_s)
        if recording is not None and recording.length_ms >= min_message_ms:
            call = CallInfo(
                call_id=entry.call_id,
                purpose=Purpose.LEAVE,
                mailbox=None,
                caller_number=entry.caller_number,
                caller_name=entry.caller_name,
                account_id=entry.account_id,
            )
            logger.info(
                "call %s: keeping recording %s, cut short by vmbox stopping", call.call_id, stem
            )
            await services.run(call, SaveMessage(entry.box_id, recording))  # logs any failure
            if audio.exists():  # the store could not take it (its database unreachable): next round
                continue
            kept += 1
        else:
            audio.unlink(missing_ok=True)
        journal.close(stem)
    return kept
