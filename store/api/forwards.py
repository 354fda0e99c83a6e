"""Handler for `POST …/vmboxes/{box_id}/messages/{message_id}/forward`: forward a message to another
box of the account by its mailbox number, as the phone does (store/forwards.py), for box logins and
accounts alike. (KAZOO's copy by box id, `source_id`, stays an account's.)"""

from aiohttp import web

from store import messages
from store.api.envelope import ApiError, bad_identifier, reply, validation_error
from store.api.keys import ACCOUNT_ID, STORE
from store.api.requests import box_id, message_id, read_envelope
from store.forwards import NoSuchMailbox, NotForwarded, OwnMailbox, forward_message
from store.message_changes import change_folder
from store.validation import error


def _mailbox(data: dict) -> str:
    mailbox = data.get("mailbox")
    if mailbox is None or mailbox == "":
        raise validation_error(error("mailbox", "required", "Field is required but missing"))
    if not isinstance(mailbox, str):
        raise validation_error(
            error(
                "mailbox",
                "type",
                "Value did not match type(s): string",
                target="string",
                value=mailbox,
            )
        )
    return mailbox


async def forward(request: web.Request) -> web.Response:
    """Copy the message into the box numbered `data.mailbox` (its owner notified as for a new
    message) and file it here as saved, as the phone does; answer with the message as filed."""
    store, account = request.app[STORE], request[ACCOUNT_ID]
    box, ident = box_id(request), message_id(request)
    data, _ = await read_envelope(request)
    mailbox = _mailbox(data)
    try:
        await forward_message(store, account, box, ident, mailbox)
    except NoSuchMailbox:
        raise ApiError(
            404,
            "bad_identifier",
            {"message": f"there is no mailbox {mailbox} to forward to", "cause": mailbox},
        ) from None
    except OwnMailbox:
        raise validation_error(
            error("mailbox", "not", "A message cannot be forwarded to its own box", value=mailbox)
        ) from None
    except NotForwarded as refused:
        if refused.reason == "prior_to_retention_duration":
            message = "cannot make changes to messages prior to retention duration"
            raise validation_error(
                error(ident, "date_range", message, cause=store.cutoff())
            ) from None
        raise bad_identifier(ident) from None
    await change_folder(store, account, box, [ident], "saved")
    filed = await messages.get_message(store.db, account, box, ident, store.cutoff())
    if filed is None:  # deleted in the meantime
        raise bad_identifier(ident)
    return reply(request, filed.doc, revision=filed.revision)
