"""Audio files under the data directory.

Layout: `<data>/media/<account_id>/<32 hex>.wav` holds stored audio, one file per message or greeting
version (never rewritten in place: a replacement is a new file, and the old one is removed only after
the row that points to the new one is committed); `<data>/tmp/` holds uploads and conversions in
flight and is emptied on start; `<data>/cache/` holds the encoded forms of stored files that
downloads and emails asked for (store/encodings.py), dropped with their stored file.

Every stored file is complete before anyone can see it: written to tmp, fsynced, renamed into place
and the directory fsynced, all before the caller commits the row that references it.

On PostgreSQL (several nodes) the audio is kept in the database as well (`shared`): each stored file is
copied in before its row is committed, and the media directory is this node's copy, fetched from the
database when a file stored by another node is first asked for (`local`).
"""

import asyncio
import errno
import logging
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from store.audio import Encoder, FFmpeg, wav_info
from store.encodings import DEFAULT_LIMIT_MB, EncodingCache
from store.errors import NotAudio, StoreUnreachable, TooLarge

logger = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"[0-9a-f]{32}/[0-9a-f]{32}\.wav")


@dataclass(frozen=True)
class StoredAudio:
    file: str  # name relative to the media root, `<account>/<hex>.wav`
    length_ms: int


class SharedAudio(Protocol):
    """Audio kept in the database (store/postgres.py)."""

    async def put_audio(self, file: str, path: Path) -> None: ...

    async def get_audio(self, file: str, path: Path) -> bool: ...

    async def copy_audio(self, file: str, copy: str) -> None: ...


class MediaFiles:
    """The media and tmp directories of one data directory."""

    def __init__(self, data_dir: Path, ffmpeg: FFmpeg, shared: SharedAudio | None = None):
        self.shared = shared  # the database that holds the audio too (PostgreSQL), or None
        self.root = data_dir / "media"
        self.tmp = data_dir / "tmp"
        self.ffmpeg = ffmpeg
        self.encoder = Encoder(ffmpeg)
        self.cache = EncodingCache(data_dir / "cache", DEFAULT_LIMIT_MB * 1024 * 1024)

    def prepare(self) -> None:
        """Create the directories, drop whatever a previous run left in tmp, take the cache back."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cache.prepare()

    def path(self, file: str) -> Path:
        """Absolute path of a stored file; refuses anything that is not one of our names."""
        if not _FILE_NAME.fullmatch(file):
            raise ValueError(f"not a media file name: {file!r}")
        return self.root / file

    async def local(self, file: str) -> Path:
        """The path of stored `file` on this node, fetched from the database when only another node
        has it on disk. Raises FileNotFoundError when the file is gone (its row replaced or deleted)."""
        path = self.path(file)
        if self.shared is None or path.exists():
            return path
        fetched = self.temp_path(".wav")
        try:
            if not await self.shared.get_audio(file, fetched):
                raise FileNotFoundError(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(fetched, path)  # a copy: the database holds the durable one
        finally:
            fetched.unlink(missing_ok=True)
        return path

    async def _share(self, file: str, keep_local: bool = False) -> None:
        """Copy a newly stored file into the database (before its row is committed); when that fails,
        the local file goes too, unless `keep_local`."""
        if self.shared is not None:
            try:
                await self.shared.put_audio(file, self.root / file)
            except BaseException:
                if not keep_local:
                    self.path(file).unlink(missing_ok=True)
                raise

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh, unused path in the tmp directory."""
        return self.tmp / f"{secrets.token_hex(16)}{suffix}"

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Path:
        """Write an upload to a tmp file; raise TooLarge (keeping nothing) past `limit` bytes."""
        upload = self.temp_path(".upload")
        size = 0
        try:
            with open(upload, "wb") as out:  # noqa: ASYNC230 - local disk writes between network reads
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(limit)
                    out.write(chunk)
        except BaseException:
            upload.unlink(missing_ok=True)
            raise
        return upload

    async def store(self, upload: Path, account_id: str) -> StoredAudio:
        """Normalise `upload` into a new stored file of `account_id`; the upload is removed either way.

        Raises NotAudio if ffmpeg cannot decode it.
        """
        converted = self.temp_path(".wav")
        try:
            info = await self.ffmpeg.normalise(upload, converted)
            file = f"{account_id}/{secrets.token_hex(16)}.wav"
            await asyncio.to_thread(_install, converted, self.root / file)
        finally:
            upload.unlink(missing_ok=True)
            converted.unlink(missing_ok=True)
        await self._share(file)
        return StoredAudio(file, info.length_ms)

    async def adopt(self, recording: Path, account_id: str) -> StoredAudio:
        """Take a recording made on a call into the store. Asterisk's `wav` is already the stored
        format, so the file is moved in as it is (copied when it lives on another filesystem); any
        other format goes through ffmpeg. The recording file is gone afterwards either way.

        Raises NotAudio when it is not audio.
        """
        info = wav_info(recording)
        if not info.stored_format:
            return await self.store(recording, account_id)
        if info.length_ms == 0:
            recording.unlink(missing_ok=True)
            raise NotAudio("the recording holds no audio")
        file = f"{account_id}/{secrets.token_hex(16)}.wav"
        await asyncio.to_thread(_move_in, recording, self.root / file)
        try:
            await self._share(file, keep_local=True)
        except StoreUnreachable:
            await self.give_back(file, recording)
            raise
        return StoredAudio(file, info.length_ms)

    async def give_back(self, file: str, recording: Path) -> None:
        """Move an adopted recording back where it was, its message not stored (the database could not
        be reached): the journal of recordings keeps it there until it can be (ivr/recordings.py)."""
        await asyncio.to_thread(shutil.move, self.path(file), recording)

    async def duplicate(self, file: str, account_id: str) -> str:
        """A new stored file with the same audio as `file` (a hard link where the filesystem allows)."""
        copy = f"{account_id}/{secrets.token_hex(16)}.wav"
        await asyncio.to_thread(_link_or_copy, await self.local(file), self.root / copy)
        if self.shared is not None:
            await self.shared.copy_audio(file, copy)
        await self.cache.share(file, copy)
        return copy

    async def encoded(self, file: str, extension: str) -> bytes:
        """The audio of stored `file` encoded as `extension` (mp3, mp4 or wav), from the cache when it
        was encoded before.

        Raises FileNotFoundError when the file is gone (replaced or deleted since its row was read).
        """
        source = await self.local(file)
        if extension == "wav":
            return await asyncio.to_thread(source.read_bytes)
        try:
            return await self.cache.get(file, source, extension, self.encoder.encode)
        except RuntimeError:
            if not source.exists():
                raise FileNotFoundError(source) from None
            raise

    def discard(self, files: Iterable[str | None]) -> None:
        """Remove stored files no row refers to any more, and their encodings (missing ones are fine)."""
        files = [file for file in files if file]
        for file in files:
            self.path(file).unlink(missing_ok=True)
        self.cache.forget(files)

    def remove_orphans(self, referenced: set[str], written_before: float | None = None) -> int:
        """Remove stored files that no row refers to (left by a crash between rename and commit); only
        those last written before `written_before` (Unix seconds), when given: with several nodes,
        another node may have written a file whose row it has not committed yet."""
        removed = 0
        for path in self.root.glob("*/*.wav"):
            if f"{path.parent.name}/{path.name}" not in referenced and (
                written_before is None or path.stat().st_mtime < written_before
            ):
                path.unlink(missing_ok=True)
                removed += 1
        if removed:
            logger.warning("removed %d media files that no row referred to", removed)
        self.cache.keep_only(referenced)
        return removed


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _install(source: Path, target: Path) -> None:
    """Durably move a finished tmp file to its final name."""
    with open(source, "rb") as handle:
        os.fsync(handle.fileno())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    _fsync_dir(target.parent)


def _move_in(source: Path, target: Path) -> None:
    """Durably move `source` to `target`, across filesystems if need be."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(source, "rb") as handle:
            os.fsync(handle.fileno())
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        staged = target.with_suffix(".part")
        shutil.copyfile(source, staged)
        _install(staged, target)
        source.unlink()
        return
    _fsync_dir(target.parent)


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        # No hard links here (another filesystem, or one without them): copy and install durably.
        staged = target.with_suffix(".part")
        shutil.copyfile(source, staged)
        _install(staged, target)
        return
    _fsync_dir(target.parent)
