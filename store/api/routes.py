"""Every endpoint of the API in one table: the app registers it and the OpenAPI document describes it,
so the two cannot drift apart.

Order matters where paths overlap: aiohttp tries routes in the order they are added, so the fixed
`/vmboxes/messages` and `/messages/raw` come before `/vmboxes/{box_id}` and `/messages/{message_id}`.
Otherwise the busiest come first (a box's messages, a box, the boxes): each path tried before the one
that matches costs every request a regular expression.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from store.api import (
    audio,
    box_greetings,
    events,
    forwards,
    logins,
    media,
    messages,
    service,
    users,
    vmboxes,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ACCOUNT = "/v2/accounts/{account_id}"
BOX = ACCOUNT + "/vmboxes/{box_id}"
MESSAGE = BOX + "/messages/{message_id}"
USER = ACCOUNT + "/users/{user_id}"
MEDIA = ACCOUNT + "/media/{media_id}"
GREETING = BOX + "/greetings/{kind}"

# Query parameters of the media download, for the OpenAPI document: (name, type, description).
_FORMAT = (("format", "string", "Audio format of the download: wav (default), mp3 or mp4"),)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    request: str | None = (
        None  # body: a schema name, "envelope", "change", "ids", "upload", "media_upload", "audio"
    )
    response: str = "json"  # "json", "created", "audio", "zip"
    paginated: bool = False
    query: tuple[
        tuple[str, str, str], ...
    ] = ()  # other query parameters: (name, type, description)
    public: bool = False  # called without a token
    box: bool = False  # a box login's token may call it (for its own box), beside an account's


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", service.healthz, "Liveness and database check (no auth)", public=True),
    Route(
        "GET",
        "/v2/openapi.json",
        service.openapi,
        "This OpenAPI document (no auth)",
        public=True,
    ),
    Route(
        "PUT",
        "/v2/api_auth",
        logins.put_api_auth,
        "Exchange an API key for an auth token (also set as the vmbox_token cookie)",
        "api_auth",
        "created",
        public=True,
    ),
    Route(
        "PUT",
        "/v2/vmbox_auth",
        logins.put_vmbox_auth,
        "Exchange a mailbox number and PIN for a token reaching that box alone (also set as the"
        " vmbox_token cookie)",
        "vmbox_auth",
        "created",
        public=True,
    ),
    Route(
        "GET",
        "/v2/vmbox_auth",
        logins.get_vmbox_auth,
        "Who the token is: its account, and its box for a box login",
        box=True,
    ),
    Route(
        "DELETE",
        "/v2/vmbox_auth",
        logins.delete_vmbox_auth,
        "Log out: revoke the token and clear the cookie",
        box=True,
    ),
    Route(
        "GET",
        BOX + "/messages",
        messages.list_box_messages,
        "List a box's messages",
        paginated=True,
        box=True,
    ),
    Route(
        "PUT",
        BOX + "/messages",
        messages.create_message,
        "Create a message (JSON metadata, or multipart metadata + audio)",
        "upload",
        "created",
        box=True,
    ),
    Route(
        "POST",
        BOX + "/messages",
        messages.change_messages,
        "Change the folder of, move or copy messages",
        "change",
        box=True,
    ),
    Route(
        "DELETE",
        BOX + "/messages",
        messages.delete_messages,
        "Delete all, a folder's, or listed messages",
        "change",
        box=True,
    ),
    Route(
        "GET",
        ACCOUNT + "/vmboxes/messages",
        messages.list_account_messages,
        "List the messages of every box of the account",
        paginated=True,
    ),
    Route("GET", BOX, vmboxes.get_vmbox, "Fetch a voicemail box", box=True),
    Route("POST", BOX, vmboxes.replace_vmbox, "Replace a voicemail box's settings", "vmbox"),
    Route(
        "PATCH",
        BOX,
        vmboxes.patch_vmbox,
        "Merge settings into a voicemail box (a box login: only the owner's settings)",
        "envelope",
        box=True,
    ),
    Route("DELETE", BOX, vmboxes.delete_vmbox, "Delete a voicemail box and its messages"),
    Route(
        "GET",
        ACCOUNT + "/vmboxes",
        vmboxes.list_vmboxes,
        "List voicemail boxes with message counts",
        paginated=True,
    ),
    Route(
        "PUT",
        ACCOUNT + "/vmboxes",
        vmboxes.create_vmbox,
        "Create a voicemail box",
        "vmbox",
        "created",
    ),
    Route(
        "POST",
        BOX + "/messages/raw",
        audio.post_raw_zip,
        "Fetch the audio of several messages as a ZIP",
        "ids",
        "zip",
        box=True,
    ),
    Route("GET", MESSAGE, messages.get_message, "Fetch a message", box=True),
    Route(
        "POST",
        MESSAGE,
        messages.change_message,
        "Change a message's folder, or move or copy it (a box login: folder only)",
        "change",
        box=True,
    ),
    Route("DELETE", MESSAGE, messages.delete_message, "Delete a message", box=True),
    Route(
        "POST",
        MESSAGE + "/forward",
        forwards.forward,
        "Forward a message to the box with mailbox number data.mailbox (filed here as saved)",
        "forward",
        box=True,
    ),
    Route(
        "GET",
        MESSAGE + "/raw",
        audio.get_raw,
        "Download a message's audio",
        response="audio",
        box=True,
    ),
    Route("PUT", MESSAGE + "/raw", audio.put_raw, "Replace a message's audio", "audio", box=True),
    Route(
        "GET",
        BOX + "/events",
        events.box_events,
        "Server-sent events: `counts` ({new, saved, deleted}) now and at every change of the"
        " box's messages",
        response="events",
        box=True,
    ),
    Route(
        "GET",
        GREETING,
        box_greetings.get_greeting,
        "Hear a box's greeting (kind: unavailable, temporary or name)",
        response="audio",
        query=_FORMAT,
        box=True,
    ),
    Route(
        "PUT",
        GREETING,
        box_greetings.put_greeting,
        "Set a box's greeting from an upload (201 new, 200 replaced)",
        "audio",
        box=True,
    ),
    Route(
        "DELETE",
        GREETING,
        box_greetings.delete_greeting,
        "Remove a box's greeting (callers hear the default)",
        box=True,
    ),
    Route("GET", ACCOUNT + "/users", users.list_users, "List users", paginated=True),
    Route("PUT", ACCOUNT + "/users", users.create_user, "Create a user", "user", "created"),
    Route("GET", USER, users.get_user, "Fetch a user"),
    Route("POST", USER, users.replace_user, "Replace a user", "user"),
    Route("PATCH", USER, users.patch_user, "Merge fields into a user", "envelope"),
    Route("DELETE", USER, users.delete_user, "Delete a user"),
    Route(
        "GET",
        ACCOUNT + "/media",
        media.list_media,
        "List media objects (greetings, names)",
        paginated=True,
    ),
    Route(
        "PUT",
        ACCOUNT + "/media",
        media.create_media,
        "Create a media object (JSON metadata, or multipart metadata + audio)",
        "media_upload",
        "created",
    ),
    Route("GET", MEDIA, media.get_media, "Fetch a media object"),
    Route("POST", MEDIA, media.replace_media, "Replace a media object's metadata", "media"),
    Route(
        "PATCH", MEDIA, media.patch_media, "Merge fields into a media object's metadata", "envelope"
    ),
    Route("DELETE", MEDIA, media.delete_media, "Delete a media object and its audio"),
    Route(
        "GET",
        MEDIA + "/raw",
        media.get_media_raw,
        "Download a media object's audio",
        response="audio",
        query=_FORMAT,
    ),
    Route("PUT", MEDIA + "/raw", media.put_media_raw, "Replace a media object's audio", "audio"),
)


def add_routes(app: web.Application) -> None:
    """Register every route of the table on `app`."""
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)


def public_routes() -> frozenset[tuple[str, str]]:
    """(method, path) of the routes called without a token."""
    return frozenset((route.method, route.path) for route in ROUTES if route.public)


def box_routes() -> frozenset[tuple[str, str]]:
    """(method, path) of the routes a box login's token may call."""
    return frozenset((route.method, route.path) for route in ROUTES if route.box)
