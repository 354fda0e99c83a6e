"""Errors the store raises; the REST layer turns each into KAZOO's error shape."""


class StoreError(Exception):
    """Base class of the store's errors."""


class NotFound(StoreError):
    """No such object in this account (or it is hidden: deleted, past retention)."""

    def __init__(self, ident: str):
        super().__init__(f"not found: {ident}")
        self.ident = ident


class RevisionConflict(StoreError):
    """The caller's revision is stale: someone else changed the object first."""

    def __init__(self, ident: str):
        super().__init__(f"stale revision for {ident}")
        self.ident = ident


class Invalid(StoreError):
    """A document that breaks its schema or a uniqueness rule; `errors` is in KAZOO's shape."""

    def __init__(self, errors: dict):
        super().__init__(f"invalid: {sorted(errors)}")
        self.errors = errors


class NotAudio(StoreError):
    """An upload that ffmpeg cannot decode, or that holds no sound at all."""


class TooLarge(StoreError):
    """An upload over the configured size limit."""

    def __init__(self, limit: int):
        super().__init__(f"upload larger than {limit} bytes")
        self.limit = limit


class TooLong(StoreError):
    """Uploaded audio that lasts longer than vmbox keeps."""

    def __init__(self, limit_s: int):
        super().__init__(f"the audio lasts longer than {limit_s} s, the longest vmbox keeps")
        self.limit_s = limit_s


class NoAudio(StoreError):
    """The message or media object exists but no audio has been attached to it yet."""

    def __init__(self, ident: str):
        super().__init__(f"{ident} has no audio")
        self.ident = ident


class StoreUnreachable(StoreError):
    """The store's database server cannot be reached; the message says where and what to check."""


class SchemaTooNew(StoreError):
    """The database was brought to a newer schema by a newer vmbox: this one must not touch it."""
