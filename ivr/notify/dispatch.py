"""What a new message sets in motion, and the folder change after a delivered notification.

`message.new` (queued by the store with the message) becomes, in one step: a transcription job (when
the box transcribes and an engine is configured) or else an email job (when email is configured), and
a callback series (when the box's notify.callback has a number and is not disabled; one series per
box and number at a time). The message-waiting lamp needs no job: the store marks it itself.
"""

import logging

from store.core import Store
from store.jobs import Job, NewJob, Outcome
from store.message_changes import change_folder
from store.messages import get_message
from store.vmboxes import get_vmbox

logger = logging.getLogger(__name__)


def callback_key(box_id: str, number: str) -> str:
    return f"callback:{box_id}:{number}"


class Dispatcher:
    def __init__(self, store: Store, email: bool, transcription: bool, callbacks: bool):
        self.store = store
        self.email = email
        self.transcription = transcription
        self.callbacks = callbacks

    def after_transcription(self, payload: dict) -> tuple[NewJob, ...]:
        """What follows a transcription (successful or not): the email, if email is configured."""
        return (NewJob("email.new_message", payload),) if self.email else ()

    async def message_new(self, job: Job) -> Outcome:
        payload = job.payload
        box = await get_vmbox(self.store.db, payload["account_id"], payload["box_id"])
        message = await get_message(
            self.store.db, payload["account_id"], payload["box_id"], payload["message_id"], 0
        )
        if box is None or message is None:
            return Outcome("done", "the message is gone; nothing to notify")
        follow_ups: list[NewJob] = []
        if self.transcription and box.doc.get("transcribe"):
            follow_ups.append(NewJob("transcribe", payload))
        else:
            follow_ups += self.after_transcription(payload)
        callback = box.doc.get("notify", {}).get("callback", {})
        number = callback.get("number")
        if self.callbacks and number and not callback.get("disabled"):
            series = {
                "account_id": box.account_id,
                "box_id": box.id,
                "number": number,
                "attempt": 0,
            }
            follow_ups.append(NewJob("callback", series, key=callback_key(box.id, number)))
        kinds = ", ".join(job.kind for job in follow_ups) or "nothing to notify"
        return Outcome("done", kinds, follow_ups=tuple(follow_ups))

    async def after_notify(self, job: Job) -> Outcome:
        """After a delivered notification: save_after_notify → saved (it wins); else delete_after_notify → deleted."""
        payload = job.payload
        box = await get_vmbox(self.store.db, payload["account_id"], payload["box_id"])
        if box is None:
            return Outcome("done", "the box is gone")
        folder = (
            "saved"
            if box.doc.get("save_after_notify")
            else "deleted"
            if box.doc.get("delete_after_notify")
            else None
        )
        if folder is None:
            return Outcome("done", "the box keeps notified messages where they are")
        outcome = await change_folder(
            self.store, box.account_id, box.id, [payload["message_id"]], folder
        )
        return Outcome("done", f"moved to {folder}" if outcome.succeeded else "the message is gone")
