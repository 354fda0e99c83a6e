"""The encoded forms of stored audio (MP3, MP4), kept on disk so a message is encoded once for its
email, its downloads and its ZIPs.

Rules:
- One entry per stored file and extension, at `<data>/cache/<account>/<hex>.<extension>` for the
  stored `<account>/<hex>.wav`. A stored file is never rewritten (new audio is a new file under a new
  name), so an entry can only ever hold the audio its name says.
- Bounded: the entries hold at most `limit` bytes; the least recently used go first. An encoding
  larger than the limit is handed out and not kept.
- A copied stored file (a message copied to another box) shares its original's entries.
- `forget` drops a stored file's entries when its message is deleted or its audio replaced or freed;
  an encoding of it still running then is handed to its waiters and not kept.
- One encoding per entry at a time: whoever asks while it runs waits for it; a waiter that gives up
  (a client gone) does not stop it for the others.
- An entry is written to a `.part` file, fsynced and renamed: a name in the cache always holds a
  whole encoding, after a crash too. At start, parts and entries of unknown files go, and the rest
  is taken back oldest first (by modification time, which a hit renews).
- The index lives in memory and changes only on the event loop; disk reads and writes run on
  threads.
"""

import asyncio
import contextlib
import logging
import os
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_LIMIT_MB = 256
EXTENSIONS = ("mp3", "mp4")
_ENTRY = re.compile(r"([0-9a-f]{32})/([0-9a-f]{32})\.(mp3|mp4)")

# Writes the encoding of a stored WAV file (source) as `extension` into a new file (target).
Encode = Callable[[Path, str, Path], Awaitable[None]]
_Key = tuple[str, str]  # (stored file, extension)


class EncodingCache:
    """Encoded audio under `root`, at most `limit` bytes of it."""

    def __init__(self, root: Path, limit: int):
        self.root = root
        self.limit = limit
        self.size = 0  # bytes held
        self._entries: OrderedDict[_Key, int] = OrderedDict()  # size by key, least recent first
        self._running: dict[_Key, asyncio.Future] = {}
        self._forgotten: set[_Key] = set()  # running encodings not to keep

    def __contains__(self, key: _Key) -> bool:
        return key in self._entries

    def prepare(self) -> None:
        """Take back what a previous run left (oldest first), dropping parts and unknown files."""
        self.root.mkdir(parents=True, exist_ok=True)
        found = []
        for path in self.root.glob("*/*"):
            match = _ENTRY.fullmatch(f"{path.parent.name}/{path.name}")
            if match is None:
                path.unlink(missing_ok=True)
                continue
            stat = path.stat()
            found.append((stat.st_mtime, (f"{match[1]}/{match[2]}.wav", match[3]), stat.st_size))
        for _, key, size in sorted(found):
            self._entries[key] = size
            self.size += size
        self._shrink()
        if self._entries:
            logger.info(
                "%d encodings (%d kB) kept from the last run", len(self._entries), self.size // 1024
            )

    def resize(self, limit: int) -> None:
        """Hold at most `limit` bytes from now on (evicting at once if need be)."""
        self.limit = limit
        self._shrink()

    async def get(self, file: str, source: Path, extension: str, encode: Encode) -> bytes:
        """The encoding of stored `file` (at `source`) as `extension`: the kept one, else made by
        `encode` once however many ask. Raises what `encode` raises (FileNotFoundError when the
        source is gone)."""
        key = (file, extension)
        if key in self._entries:
            self._entries.move_to_end(key)
            try:
                return await asyncio.to_thread(_read_and_touch, self._path(key))
            except FileNotFoundError:  # evicted or forgotten while we read: encode it again
                if key in self._entries and not self._path(key).exists():
                    self.size -= self._entries.pop(key)
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.ensure_future(self._fill(key, source, encode))
            running.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(running)

    def forget(self, files: Iterable[str | None]) -> None:
        """Drop the entries of stored `files` (their audio is gone, replaced or deleted)."""
        for file in filter(None, files):
            for key in ((file, extension) for extension in EXTENSIONS):
                if key in self._running:
                    self._forgotten.add(key)
                if key in self._entries:
                    self._remove(key)

    async def share(self, file: str, copy: str) -> None:
        """Give stored `copy`, a copy of stored `file`, the entries `file` has (as hard links, where
        the filesystem allows): a copied message is not encoded again."""
        for extension in EXTENSIONS:
            key, copy_key = (file, extension), (copy, extension)
            size = self._entries.get(key)
            if size is None:
                continue
            try:
                await asyncio.to_thread(os.link, self._path(key), self._path(copy_key))
            except OSError:  # evicted meanwhile, or no hard links here: encoded when asked
                continue
            self._add(copy_key, size)
        self._shrink()

    def keep_only(self, files: set[str]) -> None:
        """Drop the entries of every stored file not in `files` (at start: files no row names)."""
        self.forget({file for file, _ in self._entries} - files)

    async def _fill(self, key: _Key, source: Path, encode: Encode) -> bytes:
        entry = self._path(key)
        part = entry.with_name(f"{entry.name}.{secrets.token_hex(8)}.part")
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            await encode(source, key[1], part)
            audio = await asyncio.to_thread(_install, part, entry)
        finally:
            part.unlink(missing_ok=True)
        if key in self._forgotten:
            entry.unlink(missing_ok=True)
            return audio
        self._add(key, len(audio))
        self._shrink()
        return audio

    def _finished(self, key: _Key, done: asyncio.Future) -> None:
        del self._running[key]
        self._forgotten.discard(key)
        if not done.cancelled():
            done.exception()  # every waiter may have gone: the failure is theirs, not the loop's

    def _add(self, key: _Key, size: int) -> None:
        self.size += size - self._entries.pop(key, 0)
        self._entries[key] = size

    def _shrink(self) -> None:
        while self.size > self.limit and self._entries:
            self._remove(next(iter(self._entries)))

    def _remove(self, key: _Key) -> None:
        self.size -= self._entries.pop(key)
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: _Key) -> Path:
        file, extension = key
        return self.root / f"{file.removesuffix('.wav')}.{extension}"


def _read_and_touch(path: Path) -> bytes:
    audio = path.read_bytes()
    with contextlib.suppress(FileNotFoundError):  # evicted since: the bytes are good all the same
        os.utime(path)  # recently used, for the order taken back at the next start
    return audio


def _install(part: Path, entry: Path) -> bytes:
    """Make the finished `part` the entry `entry`, durably; its bytes."""
    with open(part, "rb") as handle:
        audio = handle.read()
        os.fsync(handle.fileno())
    os.replace(part, entry)
    return audio
