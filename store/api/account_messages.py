"""`PUT /v2/accounts/{account_id}/messages`: a message created with no box in the path, as the seed
document's single-request example sends it. The metadata names the box: its `vmbox_id`, or else the
mailbox number in the user part of `to` ("3000@realm" or a bare "3000")."""

from aiohttp import web

from store.api.envelope import bad_identifier, validation_error
from store.api.keys import ACCOUNT_ID, STORE
from store.api.messages import create_in_box
from store.errors import Invalid
from store.ids import is_hex_id
from store.validation import error, validate
from store.vmboxes import find_vmbox


def _missing_box(request: web.Request) -> Exception:
    path = f"/v2/accounts/{request[ACCOUNT_ID]}/vmboxes/{{VM_BOX_ID}}/messages"
    message = (
        "Field is required but missing: name the box by vmbox_id, or by its mailbox number in"
        f" `to`, or create the message with PUT {path}"
    )
    return validation_error(error("vmbox_id", "required", message))


async def create_account_message(request: web.Request) -> web.Response:
    """Create a message in the box its metadata names (JSON metadata, or multipart with the audio)."""

    async def named_box(metadata: object) -> tuple[str, object]:
        errors = validate("message", metadata)
        if errors:
            raise Invalid(errors)
        metadata = dict(metadata)
        # The box the message goes to, not part of the message (KAZOO keeps no such key in it).
        ident = metadata.pop("vmbox_id", None)
        if isinstance(ident, str):
            if not is_hex_id(ident):
                raise bad_identifier(ident)
            return ident, metadata
        if ident is not None:
            message = "Value did not match type(s): string"
            raise validation_error(error("vmbox_id", "type", message, target="string", value=ident))
        mailbox = str(metadata.get("to", "")).partition("@")[0]
        if not mailbox:
            raise _missing_box(request)
        box = await find_vmbox(request.app[STORE].db, request[ACCOUNT_ID], mailbox)
        if box is None:
            raise bad_identifier(mailbox)
        return box.id, metadata

    return await create_in_box(request, named_box)
