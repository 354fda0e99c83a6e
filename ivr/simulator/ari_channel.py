"""One channel in a Stasis application as Asterisk's ARI runs it, in virtual time, for the fake ARI
server (ari.py): playbacks, DTMF, recordings, variables, hang-ups, with the events in ARI's order.

The caller is the FastAGI simulator's scripted caller (caller.py) and what happens is written to the
same Transcript, so scenarios are shared between drivers. Windows, as the caller sees them:
- a playlist is played item by item; a run of `digits/*` sounds is one window (what SAY NUMBER, SAY
  DIGITS or SAY DATETIME would be over FastAGI), a run of `silence/*` sounds is a wait for a key (WAIT
  FOR DIGIT); every other item is its own window;
- ARI delivers every key to the application; which keys a playback listens for is not part of the
  protocol. vmbox's driver names its playbacks with them (ivr/ari/playlist.playback_id), and the
  scripted caller presses a key only in a window that listens for it, as with STREAM FILE's escape
  digits. A key the application accepts must be followed by its DELETE /playbacks/{id}: the playback
  plays on (in virtual time nothing moves) until then.
Event orders (as observed, reference/asterisk-agi.md §6): a playback: PlaybackStarted, then
PlaybackFinished, with ChannelDtmfReceived between when a key stops it. A recording: RecordingStarted,
then (ChannelDtmfReceived,) RecordingFinished. A hang-up by the caller: ChannelHangupRequest, the
PlaybackFinished/RecordingFinished of what was running, StasisEnd, ChannelDestroyed.
"""

import asyncio
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.ari.playlist import keys_of
from ivr.simulator import recording
from ivr.simulator.audio import write_wav
from ivr.simulator.caller import Caller, HangingUp, KeyPressed
from ivr.simulator.channel import Channel
from ivr.simulator.script import HangUp, describe
from ivr.simulator.transcript import Heard, HungUp, Pressed, Recorded, Transcript, Waited

RATE = 8000
ALL_KEYS = "0123456789*#"
TERMINATE_ON = {"none": "", "any": ALL_KEYS, "*": "*", "#": "#"}
DTMF_MS = 100


class Refused(Exception):
    """A request Asterisk would refuse: status and ARI's message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class FakeChannel:
    """A channel in the application: its caller, virtual clock, transcript and what is running on it."""

    def __init__(self, server, channel: Channel, caller: Caller, started: datetime):
        self.server = server  # the FakeAri: sends events, locates media, keeps stored recordings
        self.channel = channel
        self.caller = caller
        self.transcript = Transcript()
        self.clock = 0  # samples since StasisStart
        self.started = started
        self.alive = True
        self.ended = asyncio.Event()  # StasisEnd sent: the call has left the application
        self.busy: asyncio.Task | None = None  # the playback or recording running
        self._stop = asyncio.Event()
        self._stopping: str | None = None  # the playback a key was delivered for

    @property
    def id(self) -> str:
        return self.channel.uniqueid

    def snapshot(self) -> dict:
        """The Channel object as ARI shows it."""
        return {
            "id": self.id,
            "name": self.channel.name,
            "state": "Up" if self.alive else "Down",
            "caller": {"name": self.channel.caller_name, "number": self.channel.caller_number},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "language": "en",
            "dialplan": {
                "context": self.channel.context,
                "exten": self.channel.extension,
                "priority": 1,
            },
            "creationtime": self.stamp(),
        }

    def stamp(self) -> str:
        when = self.started + timedelta(microseconds=self.clock * 1_000_000 // RATE)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"

    def emit(self, kind: str, at: int | None = None, **fields) -> None:
        """Send an event stamped now, or at sample `at` of the call."""
        clock, self.clock = self.clock, self.clock if at is None else at
        self.server.send(
            {"type": kind, "timestamp": self.stamp(), "application": self.server.app, **fields}
        )
        self.clock = clock

    def error(self, message: str) -> None:
        self.transcript.errors.append(message)

    # The call's start and end.

    def start(self, args: list[str]) -> None:
        self.emit("StasisStart", args=args, channel=self.snapshot())

    def check_hangup(self) -> None:
        """Before a request: a `hangup` step due now hangs the caller up. Raises Refused when gone."""
        if self.alive and not self.busy and self.caller.hangs_up_now(self.clock):
            self.transcript.events.append(HungUp("caller"))
            self.transcript.caller_hung_up = True
            self._gone()
        if not self.alive:
            raise Refused(404, "Channel not found")

    def _gone(self, before_end=None) -> None:
        """The channel hangs up: ChannelHangupRequest, what was running ends, StasisEnd, ChannelDestroyed."""
        self.alive = False
        self.emit("ChannelHangupRequest", cause=16, channel=self.snapshot())
        if before_end:
            before_end()
        self.emit("StasisEnd", channel=self.snapshot())
        self.emit(
            "ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=self.snapshot()
        )
        self.transcript.call_seconds = self.clock / RATE
        self.ended.set()
        self._stop.set()

    def hang_up(self) -> None:
        """DELETE /channels/{id}."""
        self.transcript.server_hung_up = True
        self.transcript.events.append(HungUp("server"))
        self._gone()

    def continue_in_dialplan(self) -> None:
        """POST /channels/{id}/continue: the channel leaves the application."""
        self.transcript.closed = True
        self.emit("StasisEnd", channel=self.snapshot())
        self.transcript.call_seconds = self.clock / RATE
        self.alive = False
        self.ended.set()
        self._stop.set()  # leaving the application stops what it was playing

    def finish(self) -> Transcript:
        unused = [describe(step) for step in self.caller.left() if not isinstance(step, HangUp)]
        if unused:
            self.error(
                f"the call ended before the script was played out; unused: {'; '.join(unused)}"
            )
        return self.transcript

    # Playbacks.

    def play(self, playback_id: str, media: list[str], offset_ms: int) -> dict:
        if self.busy:
            self.error(f"play {media} while a playback or recording runs: Asterisk would queue it")
        playback = {
            "id": playback_id,
            "media_uri": media[0],
            "target_uri": f"channel:{self.id}",
            "language": "en",
            "state": "queued",
        }
        self.busy = asyncio.get_running_loop().create_task(self._play(playback, media, offset_ms))
        return playback

    async def _play(self, playback: dict, media: list[str], offset_ms: int) -> None:
        keys = keys_of(playback["id"])
        windows = await self.server.media.windows(self, media)
        self._playlist = _Playlist(playback, media)
        skip = offset_ms * RATE // 1000
        for label, files in windows:
            begin = min(skip, sum(length for _, length in files))
            skip = 0
            if await self._window(playback, label, files, begin, keys):
                break
        self.busy = None
        if self.alive:
            self.emit("PlaybackFinished", playback=self._playlist.now("done"))

    def _items(self, files: list, begin: int, elapsed: int) -> None:
        """The events of the items of a window that played from `begin` for `elapsed` samples (ending
        now): PlaybackStarted as each starts, PlaybackContinuing as it ends when another item follows
        (the last item's end is the playback's PlaybackFinished). Asterisk sends them item by item."""
        started, played_to, at = self.clock - elapsed, begin + elapsed, 0
        for name, length in files:
            item_start, at = at, at + length
            if at <= begin:
                continue  # before the offset
            if item_start >= played_to and item_start > begin:
                break  # never reached
            playing = self._playlist.start(name, "playing")
            self.emit("PlaybackStarted", at=started + max(0, item_start - begin), playback=playing)
            if at <= played_to and not self._playlist.last():
                self.emit(
                    "PlaybackContinuing",
                    at=started + at - begin,
                    playback=self._playlist.now("continuing"),
                )

    async def _window(self, playback: dict, label: str, files: list, begin: int, keys: str) -> bool:
        """Play one window; True when it ended the playback (a key or a hang-up)."""
        if self.server.drop_on in (name for name, _ in files):
            self.server.drop_on = None
            await self.server.drop_events()
        if self.server.hold_on in (name for name, _ in files):
            self.server.hold_on = None
            self._items(files[:1], 0, 0)
            self._stop.clear()
            self._stopping = playback["id"]
            self.server.holding.set()
            await self._stop.wait()
            return True
        length = sum(length for _, length in files) - begin
        event = self.caller.listen(self.clock, length, keys) if length > 0 else None
        elapsed = event.at if event else length
        self.clock += elapsed
        self._items(files, begin, elapsed)
        key = event.key if isinstance(event, KeyPressed) else None
        if label == "wait":
            self.transcript.events.append(Pressed(key) if key else Waited(elapsed / RATE))
        else:
            heard = [name for name, _ in files] if label == "SAY" else ()
            self.transcript.events.append(
                Heard(
                    label,
                    elapsed / RATE,
                    tuple(heard),
                    cut_by=key,
                    hung_up=isinstance(event, HangingUp),
                    offset_s=begin / RATE,
                )
            )
            if key:
                self.transcript.events.append(Pressed(key))
        if isinstance(event, HangingUp):
            # Asterisk: the channel's hang-up makes the item playing fail (res_stasis_playback.c).
            self.transcript.caller_hung_up = True
            self.transcript.events.append(HungUp("caller"))
            self._gone(lambda: self.emit("PlaybackFinished", playback=self._playlist.now("failed")))
            return True
        if key:
            self.transcript.events.append(Pressed(key))
        if isinstance(event, HangingUp):
            self.transcript.caller_hung_up = True
            self.transcript.events.append(HungUp("caller"))
            self._gone(
                lambda: self.emit("PlaybackFinished", playback={**playback, "state": "done"})
            )
            return True
        if key:
            self._stop.clear()
            self._stopping = playback["id"]
            self.emit(
                "ChannelDtmfReceived", digit=key, duration_ms=DTMF_MS, channel=self.snapshot()
            )
            await self._stop.wait()  # the application's DELETE /playbacks/{id} (or a hang-up)
            return True
        return False

    def stop_playback(self, playback_id: str) -> None:
        """DELETE /playbacks/{id}. Raises Refused(404) for a playback that is not playing."""
        if self._stopping != playback_id or self._stop.is_set():
            raise Refused(404, "Playback not found")
        self._stopping = None
        self._stop.set()

    # Recordings.

    def record(
        self, name: str, fmt: str, max_s: int, silence_s: int, beep: bool, terminate_on: str
    ) -> dict:
        if fmt != "wav":
            raise Refused(422, f"Recording format {fmt!r}: the fake ARI writes only wav")
        if terminate_on not in TERMINATE_ON:
            raise Refused(400, f"terminateOn {terminate_on!r} is not one of none, any, *, #")
        if self.busy:
            self.error(f"record {name} while a playback or recording runs: Asterisk answers 409")
            raise Refused(409, "Channel is busy")
        live = {"name": name, "format": fmt, "target_uri": f"channel:{self.id}", "state": "queued"}
        request = recording.RecordRequest(
            str(self.server.spool / name),
            fmt,
            TERMINATE_ON[terminate_on],
            max_s * 1000 if max_s > 0 else -1,
            0,
            beep,
            silence_s * 1000,
        )
        self.busy = asyncio.get_running_loop().create_task(self._record(live, request))
        return live

    async def _record(self, live: dict, request: recording.RecordRequest) -> None:
        # As Asterisk 22 does: RecordingStarted comes before the beep (seen on a real one).
        self.emit("RecordingStarted", recording={**live, "state": "recording"})
        if request.beep:
            beep = (await self.server.media.windows(self, ["sound:beep"]))[0][1][0][1]
            self.transcript.events.append(Heard("beep", beep / RATE))
            self.clock += beep
        take = recording.take(request, self.caller, self.clock)
        samples = stored_samples(take, request.silence_ms)
        path = Path(request.name + ".wav")
        write_wav(path, samples)
        self.clock += take.samples
        if take.key:
            self.transcript.events.append(Pressed(take.key))
        ended_by = {"dtmf": f"key {take.key}", "endless": "hangup"}.get(
            take.ended_by, take.ended_by
        )
        self.transcript.events.append(Recorded(str(path), len(samples) / RATE, ended_by))
        done = {**live, "state": "done", "duration": len(samples) // RATE}
        if self.server.drop_on == "recording":
            self.server.drop_on = None
            self.server.live[live["name"]] = (path, done)
            await self.server.drop_events()
            self.busy = None
            return
        self.server.stored[live["name"]] = path
        self.busy = None
        if take.ended_by in ("hangup", "endless"):
            self.transcript.caller_hung_up = True
            self.transcript.events.append(HungUp("caller"))
            self._gone(lambda: self.emit("RecordingFinished", recording=done))
            return
        if take.key:
            self.emit(
                "ChannelDtmfReceived", digit=take.key, duration_ms=DTMF_MS, channel=self.snapshot()
            )
        self.emit("RecordingFinished", recording=done)


class _Playlist:
    """The Playback object of one playback as ARI shows it item by item: `media_uri` the item playing,
    `next_media_uri` the one after it in the list given (absent for the last), `state`."""

    def __init__(self, playback: dict, media: list[str]):
        self.playback = playback
        self.media = media
        self.index = 0

    def start(self, name: str, state: str) -> dict:
        """The item `name` starts (the next item of that name from the current one)."""
        uri = name if name.startswith("sound:") else f"sound:{name}"
        self.index = next(
            (i for i in range(self.index, len(self.media)) if self.media[i] == uri), self.index
        )
        return self.now(state)

    def last(self) -> bool:
        return self.index >= len(self.media) - 1

    def now(self, state: str) -> dict:
        shown = {**self.playback, "media_uri": self.media[self.index], "state": state}
        if not self.last():
            shown["next_media_uri"] = self.media[self.index + 1]
        return shown


def stored_samples(take: recording.Take, silence_ms: int) -> array:
    """What Asterisk's ARI recording (app.c's ast_play_and_record) keeps, unlike RECORD FILE: nothing
    cut after a key, and after a silence stop all but 200 ms of the silence cut (seen on a real
    Asterisk 22: the audio right up to the key is in the file)."""
    if take.ended_by == "silence":
        return take.audio[: max(0, len(take.audio) - (silence_ms - 200) * recording.SAMPLES_PER_MS)]
    return take.audio


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
