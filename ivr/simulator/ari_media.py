"""Sounds as Asterisk finds them for the fake ARI server: core sounds by name under the sounds
directory, absolute paths as given, and `sound:http(s)://…` through a media cache that fetches each URL
once from vmbox's media server (so a test proves the per-call URLs work). Also groups a playlist into
the scripted caller's windows (see ari_channel.py).
"""

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from ivr.simulator.audio import SoundError, sound_length, wav_path

if TYPE_CHECKING:  # the channel only reports problems into its transcript
    from ivr.simulator.ari_channel import FakeChannel


def _group(media: list[str]) -> list[tuple[str, list[str]]]:
    """Consecutive media as the caller's windows: (label, names); runs of digits/* and silence/* merge."""
    windows: list[tuple[str, list[str]]] = []
    for uri in media:
        name = uri.removeprefix("sound:")
        kind = (
            "SAY" if name.startswith("digits/") else "wait" if name.startswith("silence/") else name
        )
        if windows and kind in ("SAY", "wait") and windows[-1][0] == kind:
            windows[-1][1].append(name)
        else:
            windows.append((kind, [name]))
    return windows


def window_length(path: Path) -> int | None:
    try:
        return sound_length(path)
    except (FileNotFoundError, SoundError, OSError, ValueError):
        return None


class SoundFiles:
    """The sounds a fake Asterisk can play, with the media cache of the URLs it fetched."""

    def __init__(self, sounds_dir: Path, spool: Path, strict: bool):
        self.sounds_dir = sounds_dir
        self.spool = spool
        self.strict = strict
        self.fetched: dict[str, Path] = {}  # URL -> the cached file
        self._http = aiohttp.ClientSession()

    async def close(self) -> None:
        await self._http.close()

    async def windows(
        self, channel: "FakeChannel", media: list[str]
    ) -> list[tuple[str, list[tuple[str, int]]]]:
        """The playlist as the caller's windows: (label, [(sound, samples)]); media Asterisk cannot open
        are reported and skipped, as a playlist skips them."""
        windows = []
        for label, names in _group(media):
            files = []
            for name in names:
                length = await self._length(channel, name)
                if length is not None:
                    files.append((name, length))
            if files:
                windows.append((label, files))
        return windows

    async def _length(self, channel: "FakeChannel", name: str) -> int | None:
        if name.startswith(("http://", "https://")):
            path = await self._fetch(channel, name)
        elif name.startswith(("/", "digits/", "silence/")) or re.fullmatch(r"[\w-]+", name):
            path = wav_path(name, self.sounds_dir)
        else:
            channel.error(f"media sound:{name}: not a sound name Asterisk would find")
            return None
        length = window_length(path) if path else None
        if length is None:
            (channel.transcript.errors if self.strict else channel.transcript.warnings).append(
                f"sound {name!r} cannot be played ({path})"
            )
        return length

    async def _fetch(self, channel: "FakeChannel", url: str) -> Path | None:
        """Asterisk's media cache: GET the URL once, keep the file by its URL."""
        if url in self.fetched:
            return self.fetched[url]
        if not urlsplit(url).path.endswith(".wav"):
            channel.error(
                f"media {url}: Asterisk picks the format from the URL's extension; this has none"
            )
        try:
            async with self._http.get(url) as reply:
                body = await reply.read()
        except aiohttp.ClientError as exc:
            channel.error(f"media {url}: cannot fetch ({exc})")
            return None
        if reply.status != 200:
            channel.error(f"media {url}: vmbox answered {reply.status}")
            return None
        path = self.spool / f"bucket-{len(self.fetched):06d}.wav"
        if len(url) + len("en") + 4 <= len(str(path)):
            # As Asterisk 22.10.1 (main/file.c): the cached file's path is copied into a buffer sized
            # from the URL, so a URL shorter than that path names a file that does not exist.
            channel.error(
                f"media {url}: shorter than the media cache's path {path}: Asterisk plays nothing"
            )
            return None
        path.write_bytes(body)
        self.fetched[url] = path
        return path
