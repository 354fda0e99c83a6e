"""The SIP addresses of a message: `from` and `to` as `user@realm`, their parts stored beside them.

KAZOO keeps `from`, `from_user`, `from_realm`, `to`, `to_user` and `to_realm` in every message's
metadata. A bare user (a caller's number, a mailbox) gets the account's realm; an address that already
names its realm (`someone@farfaraway.com`) is kept as sent, and splits at its first `@`.
"""


def address_fields(kind: str, value: str, realm: str) -> dict[str, str]:
    """{kind: "user@realm", kind_user: user, kind_realm: realm} for `value` ("from" or "to")."""
    address = value if "@" in value else f"{value}@{realm}"
    user, _, domain = address.partition("@")
    return {kind: address, f"{kind}_user": user, f"{kind}_realm": domain}
