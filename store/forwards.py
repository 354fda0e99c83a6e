"""Forwarding a message to another box of the account by its mailbox number, as the phone's message
menu does: a copy arrives new in that box and its owner is notified as for any new message."""

from store.core import Store
from store.errors import NotFound, StoreError
from store.message_changes import copy_messages
from store.vmboxes import find_vmbox


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
    store: Store, account_id: str, box_id: str, message_id: str, mailbox: str
) -> tuple[str, str]:
    """Copy a message of `box_id` into the account's box numbered `mailbox`, announced there; return
    (that box's id, the copy's id). Raises NoSuchMailbox, OwnMailbox, NotForwarded, or NotFound for
    the source box."""
    target = await find_vmbox(store.db, account_id, mailbox)
    if target is None:
        raise NoSuchMailbox(mailbox)
    if target.id == box_id:
        raise OwnMailbox(mailbox)
    outcome = await copy_messages(store, account_id, box_id, [message_id], [target.id])
    if not outcome.succeeded:
        raise NotForwarded(message_id, outcome.failed.get(message_id, "not_found"))
    return target.id, outcome.succeeded[0]
