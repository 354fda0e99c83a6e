"""Settings of the REST API, filled in by the process entry point."""

from dataclasses import dataclass, field

from store.pin_logins import LockoutPolicy


@dataclass(frozen=True)
class ApiOptions:
    max_upload_bytes: int = 50 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    token_ttl_s: int = 3600
    page_size: int = 50  # default page size of paginated listings
    max_page_size: int = 1000
    # A box login's PIN check counts towards the box's lockout, the phone's ([ivr] lockout_*).
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # Past `login_failures` failed logins within `login_window_s`, an address must wait (429).
    login_failures: int = 10
    login_window_s: int = 60
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto are believed.
    trusted_proxies: tuple[str, ...] = ()
    heartbeat_s: float = 15  # a comment line on an idle event stream, so proxies keep it open
