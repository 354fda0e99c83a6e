"""Email notifications over SMTP: the job handlers for `email.new_message` and `email.box_full` (the one
module that imports aiosmtplib).

Rules:
- Recipients are the box's `notify_email_addresses` plus its owner's `email` (unless the owner set
  `vm_to_email_enabled` false), without duplicates; none, and the job is done without an email.
- Temporary trouble (no connection, a timeout, a disconnect, any 4xx, a refused login or sender) raises
  `Retry`: the job backs off and runs again. Every recipient refused with a 5xx, or the content refused
  with a 5xx, raises `Failure`. Some recipients accepted: delivered (the refused ones are logged).
- Only a delivered new-message email asks for the after-notify step (`message.after_notify`): the
  message itself is never touched when email fails.
- Each email's Message-ID is made from its job (kind, id, message or box), so the duplicate a crash
  between the server's acceptance and the job's commit can cause is recognisable as one.
- A mailbox-full email goes out at most once an hour per box.
- The attachment is the message's encoding from the store's media cache (store/encodings.py): made
  once per message and format, whether the email, a retry of it, a copy's email or a download asks
  first.
"""

import asyncio
import logging
import re
import socket
from datetime import tzinfo
from email.utils import parseaddr

import aiosmtplib

from ivr.config import ConfigError, SmtpSettings
from ivr.notify.email_content import (
    Attachment,
    Envelope,
    box_full_content,
    build_email,
    full_fields,
    load_templates,
    message_fields,
    new_message_content,
)
from ivr.notify.worker import Failure, Retry
from store.audio import FORMATS
from store.core import Store
from store.jobs import Job, NewJob, Outcome, last_done
from store.messages import Message, get_message
from store.names import message_file_name, zone_of
from store.timezones import box_timezone
from store.users import User, get_user
from store.vmboxes import VMBox, get_vmbox

logger = logging.getLogger(__name__)

SECURITY = ("none", "starttls", "tls")
FULL_NOTICE_INTERVAL_S = 3600
_ADDRESS = re.compile(r"[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+")


def recipients_of(box: VMBox, owner: User | None) -> list[str]:
    """The box's notification addresses, then its owner's email; duplicates (any case) and malformed
    addresses left out."""
    addresses = [a for a in box.doc.get("notify_email_addresses", ()) if isinstance(a, str)]
    if (
        owner is not None
        and owner.doc.get("email")
        and owner.doc.get("vm_to_email_enabled", True) is not False
    ):
        addresses.append(owner.doc["email"])
    chosen: dict[str, str] = {}
    for address in (a.strip() for a in addresses):
        if not _ADDRESS.fullmatch(address):
            logger.warning("box %s: %r is not an email address; not sending to it", box.id, address)
            continue
        chosen.setdefault(address.lower(), address)
    return list(chosen.values())


def _all_permanent(codes: list[int]) -> bool:
    return bool(codes) and all(500 <= code < 600 for code in codes)


def classified(exc: Exception) -> Retry | Failure:
    """The worker's view of an SMTP error: Failure when retrying cannot help, else Retry."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if _all_permanent([r.code for r in exc.recipients]):
            return Failure(f"every recipient refused ({refused})")
        return Retry(f"every recipient refused, some for now ({refused})")
    if isinstance(exc, aiosmtplib.SMTPDataError) and _all_permanent([exc.code]):
        return Failure(f"the email was refused: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Retry(f"{type(exc).__name__}: {exc.code} {exc.message}")
    return Retry(f"{type(exc).__name__}: {exc}")


class EmailNotifier:
    """Sends notification emails; its `new_message` and `box_full` are job handlers."""

    def __init__(self, store: Store, smtp: SmtpSettings, clock):
        if smtp.security not in SECURITY:
            raise ConfigError(
                f"smtp.security: expected one of {', '.join(SECURITY)}, got {smtp.security!r}"
            )
        self.store = store
        self.smtp = smtp
        self.clock = clock
        self.templates = load_templates(smtp.templates_dir)
        self.sender_address = parseaddr(smtp.sender)[1] or smtp.sender
        self.domain = self.sender_address.rpartition("@")[2] or "vmbox.invalid"
        self._local_hostname: str | None = None

    async def new_message(self, job: Job) -> Outcome:
        """Email the box's recipients about a new message (with its audio when the box says so)."""
        payload, db = job.payload, self.store.db
        box = await get_vmbox(db, payload["account_id"], payload["box_id"])
        message = (
            None
            if box is None
            else await get_message(
                db, box.account_id, box.id, payload["message_id"], self.store.cutoff()
            )
        )
        if box is None or message is None:
            logger.info(
                "email job %d (message %s): the message is gone; no email",
                job.id,
                payload["message_id"],
            )
            return Outcome("done", "the message is gone; no email")
        recipients, zone = await self._audience(box)
        if not recipients:
            logger.info(
                "email job %d (message %s): the box has no one to email", job.id, message.id
            )
            return Outcome("done", "no recipients")
        content = new_message_content(
            self.templates, message_fields(box, message, zone), _transcription(box, message)
        )
        attachment = await self._attachment(job, box, message, zone)
        email = build_email(self._envelope(job, message.id, recipients), content, attachment)
        detail = await self._send(job, f"message {message.id}", email, recipients)
        return Outcome("done", detail, follow_ups=(NewJob("message.after_notify", payload),))

    async def box_full(self, job: Job) -> Outcome:
        """Tell the box's recipients that a caller found the box full, at most once an hour per box."""
        payload, db = job.payload, self.store.db
        about = f"box {payload['box_id']} full"
        last = await last_done(db, job.kind, job.key) if job.key else None
        if last is not None and self.clock.now() - last < FULL_NOTICE_INTERVAL_S:
            logger.info("email job %d (%s): already told within the hour", job.id, about)
            return Outcome("done", "already told within the hour")
        box = await get_vmbox(db, payload["account_id"], payload["box_id"])
        if box is None:
            return Outcome("done", "the box is gone; no email")
        recipients, zone = await self._audience(box)
        if not recipients:
            logger.info("email job %d (%s): the box has no one to email", job.id, about)
            return Outcome("done", "no recipients")
        content = box_full_content(self.templates, full_fields(box, payload, zone))
        email = build_email(self._envelope(job, box.id, recipients), content)
        return Outcome("done", await self._send(job, about, email, recipients))

    async def _audience(self, box: VMBox) -> tuple[list[str], tzinfo]:
        """(who to email, the zone to show times in: the box's, its owner's or the installation's, as
        KAZOO inherits it: store/timezones.py)."""
        owner_id = box.doc.get("owner_id")
        owner = (
            await get_user(self.store.db, box.account_id, owner_id)
            if isinstance(owner_id, str)
            else None
        )
        return recipients_of(box, owner), zone_of(await box_timezone(self.store, box))

    async def _attachment(
        self, job: Job, box: VMBox, message: Message, zone: tzinfo
    ) -> Attachment | None:
        if not box.doc.get("include_message_on_notify", True) or message.media_file is None:
            return None
        extension = box.doc.get("media_extension", "mp3")
        try:
            audio = await self.store.media.encoded(message.media_file, extension)
        except (
            FileNotFoundError
        ):  # replaced or deleted since it was read: the next attempt reads it again
            raise Retry(
                f"the audio of message {message.id} changed while it was being read"
            ) from None
        logger.debug(
            "email job %d (message %s): %d bytes of %s attached",
            job.id,
            message.id,
            len(audio),
            extension,
        )
        return Attachment(
            audio, FORMATS[extension][1], message_file_name(message.doc, zone, extension)
        )

    def _envelope(self, job: Job, subject_id: str, recipients: list[str]) -> Envelope:
        # Short enough not to be folded (78 columns) in the usual case; a folded one is valid all the same.
        return Envelope(
            self.smtp.sender,
            tuple(recipients),
            f"<vmbox.{job.id}.{subject_id}@{self.domain}>",
            self.clock.now(),
        )

    async def _send(self, job: Job, about: str, email: bytes, recipients: list[str]) -> str:
        """Deliver `email`; a detail for the job's record. Raises Retry or Failure."""
        try:
            refused = await self._deliver(email, recipients)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            failure = classified(exc)
            logger.warning("email job %d (%s): not delivered: %s", job.id, about, failure)
            raise failure from exc
        for address, response in refused.items():
            logger.warning(
                "email job %d (%s): %s refused: %s %s",
                job.id,
                about,
                address,
                response.code,
                response.message,
            )
        accepted = len(recipients) - len(refused)
        logger.info(
            "email job %d (%s): delivered to %d of %d recipient(s)",
            job.id,
            about,
            accepted,
            len(recipients),
        )
        return f"emailed {accepted} of {len(recipients)} recipient(s)" + (
            f"; refused: {', '.join(refused)}" if refused else ""
        )

    async def _deliver(self, email: bytes, recipients: list[str]) -> dict:
        """One SMTP session: connect (TLS, login as configured), send, quit; the refused recipients."""
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        smtp = self.smtp
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=smtp.password or None,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout_s,
            local_hostname=self._local_hostname,
        )
        try:
            await client.connect()
            refused, _ = await client.sendmail(self.sender_address, recipients, email)
        except BaseException:
            client.close()
            raise
        try:  # delivered: whatever happens while saying goodbye does not change that
            await client.quit()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            pass
        finally:
            client.close()
        return refused


def _transcription(box: VMBox, message: Message) -> str | None:
    """The message's transcription text, when it has a successful one and the box wants it emailed."""
    if not box.doc.get("include_transcription_on_notify", True):
        return None
    transcription = message.doc.get("transcription")
    if not isinstance(transcription, dict) or transcription.get("result") != "success":
        return None
    text = transcription.get("text")
    return text.strip() if isinstance(text, str) and text.strip() else None
