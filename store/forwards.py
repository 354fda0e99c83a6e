"""Forwarding a message to another box of the account by its mailbox number, as the phone's message
menu does: a copy arrives new in that box and its owner is notified as for any new message. By phone
the copy may play the owner's spoken comment first (KAZOO's prepend_forward)."""

import logging
from pathlib import Path

from store.core import Store
from store.errors import NotAudio, NotFound, StoreError
from store.message_changes import copy_messages, forward_with_comment
from store.vmboxes import find_vmbox

logger = logging.getLogger(__name__)


class NoSuchMailbox(NotFound):
    """No box of the account has that mailbox number."""

    def __init__(self, mailbox: str):
        super().__init__(mailbox)
        self.mailbox = mailbox


class OwnMailbox(StoreError):
    """The mailbox number is the message's own box's."""


class NotForwarded(StoreError):
    """The message cannot be forwarded; `reason` as in bulk answers (`not_found`,
    `prior_to_retention_duration`)."""

    def __init__(self, message_id: str, reason: str):
        super().__init__(f"{message_id}: {reason}")
        self.message_id, self.reason = message_id, reason


async def forward_message(
    store: Store,
    account_id: str,
    box_id: str,
    message_id: str,
    mailbox: str,
    comment: Path | None = None,
) -> tuple[str, str]:
    """Copy a message of `box_id` into the account's box numbered `mailbox`, announced there, behind
    the recorded `comment` (a WAV file, used up either way) when there is one; return (that box's id,
    the copy's id). Raises NoSuchMailbox, OwnMailbox, NotForwarded, or NotFound for the source box."""
    try:
        target = await find_vmbox(store.db, account_id, mailbox)
        if target is None:
            raise NoSuchMailbox(mailbox)
        if target.id == box_id:
            raise OwnMailbox(mailbox)
        if comment is not None:
            try:
                copy = await forward_with_comment(
                    store, account_id, box_id, message_id, target.id, comment
                )
                return target.id, copy
            except NotAudio as exc:  # as KAZOO: the message still goes, without the comment
                logger.warning("message %s: %s; forwarded without the comment", message_id, exc)
    finally:
        if comment is not None:
            comment.unlink(missing_ok=True)
    outcome = await copy_messages(store, account_id, box_id, [message_id], [target.id])
    if not outcome.succeeded:
        raise NotForwarded(message_id, outcome.failed.get(message_id, "not_found"))
    return target.id, outcome.succeeded[0]
