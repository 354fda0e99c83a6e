"""Audio Asterisk plays over ARI without a shared filesystem: vmbox's HTTP server serves it and the
driver plays `sound:http://…` URLs (Asterisk's media cache fetches them).

- Messages, greetings and names are private: each is served under an unguessable token
  (`secrets.token_urlsafe`, 192 bits) granted to one call for one file. A token stops working when
  the call revokes it (at its end) or `ttl_s` after it was granted, whichever comes first. Unknown or
  expired tokens answer 404, the same as a file that does not exist, so they tell nothing.
- vmbox's own prompts are public (they ship with the package): served by name at a stable URL, so
  Asterisk's media cache keeps one copy for every call.
"""

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from prompts.catalogue import PromptCatalogue

PREFIX = "/ari-media"
# Asterisk 22.10.1 copies the path of a fetched file into a buffer sized from the URL's length
# (main/file.c: strlen(filename) + strlen(language) + 4), so a URL shorter than the cache file's path
# (<astcachedir>/bucket-XXXXXX.wav) plays nothing ("File http://… does not exist in any format").
# Every URL is padded to this length with a query our routes ignore: cache directories of up to
# about 240 characters then work.
MIN_URL_LENGTH = 256


def long_enough(url: str) -> str:
    """`url`, padded with an ignored query to MIN_URL_LENGTH characters (see above)."""
    missing = MIN_URL_LENGTH - len(url) - len("?pad=")
    return f"{url}?pad={'x' * missing}" if missing > 0 else url


@dataclass(frozen=True)
class _Grant:
    file: Path
    expires: float


class MediaGrants:
    """Tokens for files, granted per call; the URLs Asterisk fetches them at."""

    def __init__(self, ttl_s: float, prompts: PromptCatalogue, clock=time.monotonic):
        self.base_url = ""  # set by serve_at() once the server is listening
        self.ttl_s = ttl_s
        self.prompts = prompts
        self._clock = clock
        self._grants: dict[str, _Grant] = {}

    def serve_at(self, url: str) -> None:
        """Asterisk reaches the routes at `url` (scheme, host and port of the media server)."""
        self.base_url = url.rstrip("/") + PREFIX

    def grant(self, file: str | Path) -> tuple[str, str]:
        """(token, URL) serving `file` until revoked or expired."""
        self._forget_expired()
        token = secrets.token_urlsafe(24)
        self._grants[token] = _Grant(Path(file), self._clock() + self.ttl_s)
        return token, long_enough(f"{self.base_url}/calls/{token}.wav")

    def revoke(self, tokens) -> None:
        for token in tokens:
            self._grants.pop(token, None)

    def prompt_url(self, name: str) -> str:
        """The URL of vmbox's own prompt `name` (one the catalogue ships)."""
        return long_enough(f"{self.base_url}/prompts/{name}.wav")

    def file_for(self, token: str) -> Path | None:
        grant = self._grants.get(token)
        if grant is None or grant.expires <= self._clock():
            return None
        return grant.file

    def _forget_expired(self) -> None:
        now = self._clock()
        for token in [token for token, grant in self._grants.items() if grant.expires <= now]:
            del self._grants[token]

    def routes(self) -> list[web.RouteDef]:
        """The HTTP routes that serve the granted files and the shipped prompts."""
        return [
            web.get(PREFIX + "/calls/{token}.wav", self._call_audio),
            web.get(PREFIX + "/prompts/{name}.wav", self._prompt),
        ]

    async def _call_audio(self, request: web.Request) -> web.StreamResponse:
        file = self.file_for(request.match_info["token"])
        if file is None or not file.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(
            file, headers={"Content-Type": "audio/wav", "Cache-Control": "private"}
        )

    async def _prompt(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not self.prompts.is_shipped(name):
            raise web.HTTPNotFound()
        return web.FileResponse(
            self.prompts.shipped_dir / f"{name}.wav", headers={"Content-Type": "audio/wav"}
        )
