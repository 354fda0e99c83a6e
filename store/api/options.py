"""Settings of the REST API, filled in by the process entry point."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiOptions:
    max_upload_bytes: int = 50 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    token_ttl_s: int = 3600
    page_size: int = 50  # default page size of paginated listings
    max_page_size: int = 1000
