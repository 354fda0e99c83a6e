"""The flow's store actions, carried out against the store; every driver (FastAGI, ARI, tests) shares
them, so the phone and the REST API always make the same changes.

Failures never reach the caller as silence: a store error is logged with the call id and answered
with the safest event (no box, wrong PIN, no messages, not forwarded, not changed, done).
"""

import logging
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ivr.flow import actions as act
from ivr.flow.events import (
    AnnouncementSet,
    BoxFound,
    Done,
    Forwarded,
    ForwardTargetFound,
    MessagesLoaded,
    PinChecked,
)
from ivr.flow.model import Audio, Box, CallInfo, Message
from ivr.recordings import Journal
from store import greetings, users
from store.accounts import revoke_box_tokens
from store.audio import wav_info
from store.box_greetings import NoGreeting, remove_box_greeting, set_box_greeting
from store.core import Store
from store.errors import NotAudio, StoreError, StoreUnreachable
from store.forwards import NoSuchMailbox, NotForwarded, OwnMailbox, forward_message
from store.ids import to_unix
from store.jobs import NewJob, enqueue_job
from store.message_changes import change_folder
from store.messages import create_message, playable_messages
from store.pin_logins import LockoutPolicy, log_in_with_pin
from store.timezones import box_timezone
from store.vmboxes import VMBox, find_vmbox, folder_counts, get_vmbox, patch_vmbox

logger = logging.getLogger(__name__)

_CALLER_FIELD = (
    35  # KAZOO's caller_id_* limit: longer values are cut, never refused (the message must be kept)
)


@dataclass(frozen=True)
class ServiceOptions:
    max_message_count: int = 100  # a box's own max_message_count wins
    lockout_failures: int = 10  # PIN failures across calls within lockout_window_s ...
    lockout_window_s: int = 900
    lockout_s: int = 900  # ... lock the box this long
    full_notices: bool = (
        False  # email the owner when a caller finds the box full (email is configured)
    )

    @property
    def lockout(self) -> LockoutPolicy:
        return LockoutPolicy(self.lockout_failures, self.lockout_window_s, self.lockout_s)


def _caller_text(value: str) -> str:
    return "".join(c for c in value if c.isprintable())[:_CALLER_FIELD]


def _positive(value: object) -> int | None:
    """A box's positive whole number (schema-checked, but older documents kept anything), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def _known_number(value: object) -> str:
    """A message's caller number as the flow needs it: "" when unknown, including KAZOO's (and
    vmbox's) `anonymous`, which must be neither said as digits nor called back."""
    number = str(value or "")
    return "" if number.lower() == "anonymous" else number


class CallServices:
    def __init__(
        self, store: Store, options: ServiceOptions | None = None, journal: Journal | None = None
    ):
        self.store = store
        self.options = options or ServiceOptions()
        self.journal = (
            journal  # messages being recorded (ivr/recordings.py), when calls journal them
        )

    async def run(self, call: CallInfo, action) -> object:
        """Carry out a store action for `call`; the event that answers it."""
        handler, fallback = _HANDLERS[type(action)]
        try:
            return await handler(self, call, action)
        except (StoreError, OSError, ValueError) as exc:
            logger.error("call %s: %s failed: %s", call.call_id, type(action).__name__, exc)
            return fallback

    async def _owners(self, call: CallInfo) -> set[str]:
        return await users.owner_ids_for_caller(
            self.store.db, call.account_id, users.endpoint_of(call.channel), call.caller_number
        )

    async def _audio(self, file: str | None) -> Audio | None:
        if not file:
            return None
        try:
            path = await self.store.media.local(file)
            return Audio(str(path), wav_info(path).length_ms)
        except (FileNotFoundError, NotAudio):
            return None

    async def _greeting(self, account_id: str, media_id: object) -> Audio | None:
        if not isinstance(media_id, str):
            return None
        return await self._audio(
            await greetings.media_audio_file(self.store.db, account_id, media_id)
        )

    async def _view(self, call: CallInfo, box: VMBox) -> Box:
        doc, media = box.doc, box.doc.get("media", {})
        counts = await folder_counts(self.store.db, box.id, self.store.cutoff())
        operator = doc.get("operator_number")
        return Box(
            id=box.id,
            mailbox=box.mailbox,
            is_owner=doc.get("owner_id") in await self._owners(call),
            has_pin=box.has_pin,
            require_pin=doc["require_pin"],
            check_if_owner=doc["check_if_owner"],
            is_setup=doc["is_setup"],
            announcement_only=doc["announcement_only"],
            skip_greeting=doc["skip_greeting"],
            skip_instructions=doc["skip_instructions"],
            skip_envelope=doc["skip_envelope"],
            not_configurable=doc["not_configurable"],
            oldest_message_first=doc["oldest_message_first"],
            ff_rw_enabled=doc["is_voicemail_ff_rw_enabled"],
            seek_ms=doc["seek_duration_ms"],
            timezone=await box_timezone(self.store, box),
            operator_number=str(operator) if operator else None,
            unavailable_greeting=await self._greeting(box.account_id, media.get("unavailable")),
            temporary_greeting=await self._greeting(
                box.account_id, media.get("temporary_unavailable")
            ),
            name=await self._greeting(box.account_id, media.get("name")),
            message_count=counts["new"] + counts["saved"],
            max_message_count=int(doc.get("max_message_count", self.options.max_message_count)),
            max_message_s=_positive(doc.get("max_message_length")),
        )

    async def find_box(self, call: CallInfo, action: act.FindBox) -> BoxFound:
        db = self.store.db
        if action.mailbox is not None:
            box = await find_vmbox(db, call.account_id, action.mailbox)
            return BoxFound(await self._view(call, box) if box else None)
        owners = await self._owners(call)
        rows = (
            await db.fetch_all(
                f"SELECT id FROM vmboxes WHERE account_id = ? AND owner_id IN ({','.join('?' * len(owners))})",
                (call.account_id, *owners),
            )
            if owners
            else []
        )
        if len(rows) != 1:  # none, or several: the caller must say which
            return BoxFound(None)
        return BoxFound(await self._view(call, await get_vmbox(db, call.account_id, rows[0][0])))

    async def check_pin(self, call: CallInfo, action: act.CheckPin) -> PinChecked:
        # Microseconds, on the event loop: a keyed hash (store/hashing.py). No queue: only an scrypt
        # hash left from before takes a worker thread, until its box's first successful login.
        login = await log_in_with_pin(
            self.store.db, action.box_id, action.pin, int(time.time()), self.options.lockout
        )
        if login.locked_now:
            logger.warning(
                "call %s: box %s locked for %d s after %d PIN failures",
                call.call_id,
                action.box_id,
                self.options.lockout_s,
                self.options.lockout_failures,
            )
        elif login.locked_until is not None:
            logger.warning(
                "call %s: PIN refused, box %s is locked after repeated failures",
                call.call_id,
                action.box_id,
            )
        return PinChecked(login.accepted)

    async def load_messages(self, call: CallInfo, action: act.LoadMessages) -> MessagesLoaded:
        found = await playable_messages(
            self.store.db, call.account_id, action.box_id, self.store.cutoff(), action.oldest_first
        )
        messages = [
            Message(
                doc["media_id"],
                doc["folder"],
                to_unix(doc["timestamp"]),
                _known_number(doc.get("caller_id_number", "")),
                doc.get("caller_id_name", ""),
                audio,
            )
            for (doc, _), audio in zip(found, [await self._audio(f) for _, f in found], strict=True)
            if audio is not None
        ]
        return MessagesLoaded(
            tuple(m for m in messages if m.folder == "new"),
            tuple(m for m in messages if m.folder == "saved"),
        )

    async def save_message(self, call: CallInfo, action: act.SaveMessage) -> Done:
        """Store the caller's message. If the store cannot take it (its database unreachable), the
        recording stays where it was, and its journal entry with it: it is stored once it can be."""
        box = await get_vmbox(self.store.db, call.account_id, action.box_id)
        recording = Path(action.recording.handle)
        stored = await self.store.media.adopt(recording, call.account_id)
        number = _caller_text(call.caller_number)
        metadata = {
            "caller_id_number": number or "anonymous",
            "caller_id_name": _caller_text(call.caller_name),
            "call_id": call.call_id[:256],
            "from": number or "anonymous",
            "to": box.mailbox if box else "",
        }
        try:
            message = await create_message(
                self.store, call.account_id, action.box_id, metadata, stored
            )
        except StoreUnreachable:
            await self.store.media.give_back(stored.file, recording)
            raise
        self._done_with(action.recording)
        logger.info(
            "call %s: message %s left in box %s (%d ms)",
            call.call_id,
            message.id,
            action.box_id,
            stored.length_ms,
        )
        return Done()

    async def discard(self, call: CallInfo, action: act.DiscardRecording) -> Done:
        Path(action.recording.handle).unlink(missing_ok=True)
        self._done_with(action.recording)
        return Done()

    def _done_with(self, recording) -> None:
        """A recording kept or dropped is no longer a message being recorded."""
        if self.journal is not None:
            self.journal.close(Path(recording.handle).stem)

    async def set_folder(self, call: CallInfo, action: act.SetFolder) -> Done:
        await change_folder(
            self.store, call.account_id, action.box_id, [action.message_id], action.folder
        )
        return Done()

    async def find_forward_target(
        self, call: CallInfo, action: act.FindForwardTarget
    ) -> ForwardTargetFound:
        target = await find_vmbox(self.store.db, call.account_id, action.mailbox)
        return ForwardTargetFound(target is not None and target.id != action.box_id)

    async def forward(self, call: CallInfo, action: act.ForwardMessage) -> Forwarded:
        try:
            comment = Path(action.comment.handle) if action.comment else None
            target, copy = await forward_message(
                self.store,
                call.account_id,
                action.box_id,
                action.message_id,
                action.mailbox,
                comment,
            )
        except (NoSuchMailbox, OwnMailbox, NotForwarded):
            return Forwarded(False)
        logger.info(
            "call %s: message %s forwarded to box %s as %s%s",
            call.call_id,
            action.message_id,
            target,
            copy,
            " (with a comment first)" if action.comment else "",
        )
        return Forwarded(True)

    async def save_greeting(self, call: CallInfo, action: act.SaveGreeting) -> Done:
        """Keep a greeting recorded by phone and point the box at it (store/box_greetings.py says
        which greeting it replaces is deleted)."""
        stored = await self.store.media.adopt(Path(action.recording.handle), call.account_id)
        await set_box_greeting(
            self.store, call.account_id, action.box_id, action.kind, stored, "recording"
        )
        return Done()

    async def remove_greeting(self, call: CallInfo, action: act.RemoveGreeting) -> Done:
        with suppress(NoGreeting):  # none to remove: done all the same
            await remove_box_greeting(self.store, call.account_id, action.box_id, action.kind)
        return Done()

    async def set_pin(self, call: CallInfo, action: act.SetPin) -> Done:
        await patch_vmbox(self.store.db, call.account_id, action.box_id, {"pin": action.pin})
        await revoke_box_tokens(self.store.db, action.box_id)  # web logins with the old PIN end
        return Done()

    async def set_announcement_only(
        self, call: CallInfo, action: act.SetAnnouncementOnly
    ) -> AnnouncementSet:
        await patch_vmbox(
            self.store.db, call.account_id, action.box_id, {"announcement_only": action.on}
        )
        logger.info("call %s: box %s announcement only: %s", call.call_id, action.box_id, action.on)
        return AnnouncementSet(True)

    async def report_full(self, call: CallInfo, action: act.ReportFull) -> Done:
        """Queue the "mailbox full" email; the email job sends at most one per box an hour."""
        if not self.options.full_notices:
            return Done()
        payload = {
            "account_id": call.account_id,
            "box_id": action.box_id,
            "caller_id_number": call.caller_number,
            "caller_id_name": call.caller_name,
            "unix": int(time.time()),
        }
        await enqueue_job(
            self.store.db, NewJob("email.box_full", payload, key=f"box_full:{action.box_id}")
        )
        logger.info("call %s: box %s is full; its owner will be told", call.call_id, action.box_id)
        return Done()

    async def complete_setup(self, call: CallInfo, action: act.CompleteSetup) -> Done:
        await patch_vmbox(self.store.db, call.account_id, action.box_id, {"is_setup": True})
        return Done()


_HANDLERS = {
    act.FindBox: (CallServices.find_box, BoxFound(None)),
    act.CheckPin: (CallServices.check_pin, PinChecked(False)),
    act.LoadMessages: (CallServices.load_messages, MessagesLoaded((), ())),
    act.SaveMessage: (CallServices.save_message, Done()),
    act.DiscardRecording: (CallServices.discard, Done()),
    act.SetFolder: (CallServices.set_folder, Done()),
    act.FindForwardTarget: (CallServices.find_forward_target, ForwardTargetFound(False)),
    act.ForwardMessage: (CallServices.forward, Forwarded(False)),
    act.SaveGreeting: (CallServices.save_greeting, Done()),
    act.RemoveGreeting: (CallServices.remove_greeting, Done()),
    act.SetPin: (CallServices.set_pin, Done()),
    act.SetAnnouncementOnly: (CallServices.set_announcement_only, AnnouncementSet(False)),
    act.CompleteSetup: (CallServices.complete_setup, Done()),
    act.ReportFull: (CallServices.report_full, Done()),
}
