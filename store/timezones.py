"""The time zone a box's times are said, written and emailed in, inherited as KAZOO inherits it: the
box's own `timezone`, unless unset or "inherit", else its owner's (a user's `timezone`), else the
installation's default (`[store] default_timezone`: KAZOO's system default, America/Los_Angeles)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.users import get_user
from store.vmboxes import VMBox

DEFAULT_TIMEZONE = "America/Los_Angeles"


def known(name: object) -> bool:
    """True for the name of an IANA time zone this machine knows ("inherit" is none)."""
    if not isinstance(name, str) or name == "inherit":
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


async def box_timezone(store, box: VMBox) -> str:
    """The name of the zone `box`'s times are shown in (see the module's docstring)."""
    own = box.doc.get("timezone")
    if known(own):
        return own
    owner_id = box.doc.get("owner_id")
    owner = (
        await get_user(store.db, box.account_id, owner_id) if isinstance(owner_id, str) else None
    )
    if owner is not None and known(owner.doc.get("timezone")):
        return owner.doc["timezone"]
    return store.default_timezone
