"""Runs the call flow over ARI: each channel action becomes REST requests, and the channel's events
(routed here by the Stasis application) become the flow's next event; store actions go to the shared
services, as over FastAGI.

Requests sent for a channel:
  POST /channels/{id}/answer
  POST /channels/{id}/play?media=<uri>,<uri>,…[&offsetms=N]&playbackId=…   DELETE /playbacks/{id}
  POST /channels/{id}/record?name=&format=wav&maxDurationSeconds=&maxSilenceSeconds=&beep=true
       &terminateOn=any&ifExists=overwrite                            POST /recordings/live/{name}/stop
  GET /recordings/stored/{name}/file, then DELETE /recordings/stored/{name}
  POST /channels/{id}/variable?variable=&value=    POST /channels/{id}/continue    DELETE /channels/{id}

Rules:
- DTMF does not stop an ARI playback: a ChannelDtmfReceived whose digit the action accepts stops it
  (DELETE /playbacks/{id}); other keys are ignored, as STREAM FILE ignores keys that are not escape
  digits. The offset reached is the time between the PlaybackStarted and ChannelDtmfReceived events,
  both stamped by Asterisk's clock.
  Keys that come after the one that stopped a playback (a caller typing a PIN fast) or between two
  playbacks are kept for the next action: unlike FastAGI (reference/asterisk-agi.md §6), no key is lost
  between actions.
- Fast-forward and rewind restart the message at an exact `offsetms` chosen by the flow instead of
  using playback `control` with `skipms`: the Playback object reports no position, so after a control
  seek vmbox could not know where the message is, and a skip past the end would simply end it. With
  restarts the flow sees and decides every seek, clamped the same way as over FastAGI.
- A hang-up (ChannelHangupRequest, StasisEnd) ends the channel actions; a recording in progress still
  ends with its RecordingFinished and is fetched, so the message is kept. When the events websocket
  drops, vmbox cannot follow the call: a live recording is stopped and fetched, the flow does its
  bookkeeping, and the channel is sent on to the dialplan with VMBOX_RESULT=failed (which hangs up);
  so are calls in progress when vmbox stops.
"""

import asyncio
import logging
from collections import deque
from datetime import datetime
from urllib.parse import quote

from ivr import channel_vars
from ivr.ari.client import AriDown, AriError
from ivr.ari.playlist import media_for, playback_id, silence
from ivr.calls import ALL_KEYS, collect_digits, drive, recorded, recording_stem
from ivr.flow.actions import Answer, Collect, End, HangUp, Play, PlayAudio, Record, Transfer
from ivr.flow.events import CallerHungUp, Done, PlaybackStopped, RecordingFinished
from ivr.flow.machine import Flow
from ivr.flow.model import CallInfo

logger = logging.getLogger(__name__)

LOST = {"type": "vmbox.EventsLost"}  # queued to every call when the events websocket drops
GONE = ("ChannelHangupRequest", "StasisEnd", "ChannelDestroyed")


class CallGone(Exception):
    """The caller hung up, or vmbox lost the call's events: no channel action can go on."""


def stamp(event: dict) -> datetime | None:
    """An event's `timestamp` (Asterisk's clock, e.g. 2026-11-27T07:49:23.123+0000); None if unreadable."""
    try:
        return datetime.strptime(event.get("timestamp", ""), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def _is(event: dict, kind: str, key: str, name: str) -> bool:
    return (
        event["type"] == kind
        and event.get(key, {}).get("id" if key == "playback" else "name") == name
    )


class AriCall:
    """One call in the Stasis application: the flow, the channel's events, the app's shared parts."""

    def __init__(self, app, channel_id: str, info: CallInfo):
        self.app = app  # the StasisApp: client, services, prompts, media, settings
        self.channel_id = channel_id
        self.info = info
        self.flow = Flow(info, app.flow_settings)
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self.hung_up = False
        self.lost = False  # the events websocket dropped during the call
        self._playbacks = 0
        self._recordings = 0
        self._tokens: list[str] = []
        self._typed_ahead: deque[dict] = (
            deque()
        )  # DTMF events that came after a playback's stop key

    @property
    def _channel(self) -> str:
        return f"/channels/{quote(self.channel_id, safe='')}"

    async def run(self) -> None:
        """Drive the flow to its end; after a hang-up or a lost websocket finish the bookkeeping."""
        try:
            await self._finish(await drive(self.flow, self.info, self.app.services, self.execute))
        except asyncio.CancelledError:
            # vmbox is stopping: unlike a FastAGI channel, a Stasis channel would stay in the application
            # with nobody to drive it; send it back to the dialplan.
            if not (self.hung_up or self.lost):
                self.lost = True
                await asyncio.shield(self._finish(None))
            raise
        finally:
            if self.app.media is not None:
                self.app.media.revoke(self._tokens)
            # A message Asterisk still holds (vmbox stopped or lost the call) is left to
            # ivr/recordings.recover, which fetches it.
            self.app.journal.release_call(self.info.call_id, self._recordings)

    async def execute(self, action) -> object:
        """Carry out one action; return the event that answers it."""
        runner = _CHANNEL.get(type(action))
        if runner is None:
            return await self.app.services.run(self.info, action)
        if self.hung_up or self.lost:
            return CallerHungUp()
        try:
            return await runner(self, action)
        except CallGone as exc:
            logger.debug("call %s: %s", self.info.call_id, exc)
            return CallerHungUp()

    async def _rest(self, method: str, path: str, **params) -> object:
        try:
            return await self.app.client.request(method, path, **params)
        except AriError as exc:
            if exc.status != 404 and not isinstance(exc, AriDown):
                logger.warning("call %s: %s", self.info.call_id, exc)
            raise CallGone(str(exc)) from None

    async def _event(self, stop_on_hangup: bool = True) -> dict:
        event = self._typed_ahead.popleft() if self._typed_ahead else await self.events.get()
        if event is LOST:
            self.lost = True
            raise CallGone("the ARI events websocket dropped")
        if event["type"] in GONE:
            self.hung_up = True
            if stop_on_hangup:
                raise CallGone(f"{event['type']}")
        return event

    # Media.

    def _prompt(self, name: str) -> str:
        if self.app.prompts.is_shipped(name) and self.app.media is not None:
            return f"sound:{self.app.media.prompt_url(name)}"
        return f"sound:{self.app.prompts.sound(name)}"

    def _audio(self, handle: str) -> str:
        if self.app.media is None:  # a shared directory: Asterisk opens the file itself
            return f"sound:{handle[:-4] if handle.endswith('.wav') else handle}"
        token, url = self.app.media.grant(handle)
        self._tokens.append(token)
        return f"sound:{url}"

    def _media(self, items) -> list[str]:
        return [uri for item in items for uri in media_for(item, self._prompt, self._audio)]

    # Channel actions.

    async def _answer(self, action: Answer):
        await self._rest("POST", f"{self._channel}/answer")
        return Done()

    async def _playback(
        self, media: list[str], escape: str, offset_ms: int = 0
    ) -> tuple[str | None, int]:
        """Play `media`; (the accepted key that stopped it or None, ms played before the key)."""
        if not media:
            return None, 0
        self._playbacks += 1
        playback = playback_id(self.info.call_id, self._playbacks, escape)
        await self._rest(
            "POST",
            f"{self._channel}/play",
            media=media,
            playbackId=playback,
            offsetms=offset_ms or None,
        )
        started = key = pressed = None
        later: list[dict] = []
        while True:
            event = await self._event()
            if _is(event, "PlaybackStarted", "playback", playback):
                started = stamp(event)
            elif (
                event["type"] == "ChannelDtmfReceived"
                and key is None
                and event.get("digit", "") in escape
            ):
                key, pressed = event["digit"], stamp(event)
                await self._stop(playback)
            elif event["type"] == "ChannelDtmfReceived" and key is not None:
                later.append(event)
            elif _is(event, "PlaybackFinished", "playback", playback):
                if event["playback"].get("state") == "failed":
                    logger.warning("call %s: Asterisk could not play %s", self.info.call_id, media)
                break
        self._typed_ahead.extend(later)
        elapsed = (
            round((pressed - started).total_seconds() * 1000) if key and started and pressed else 0
        )
        return key, max(0, elapsed)

    async def _stop(self, playback: str) -> None:
        try:
            await self.app.client.request("DELETE", f"/playbacks/{quote(playback, safe='')}")
        except (
            AriError
        ) as exc:  # 404: it ended by itself meanwhile; its PlaybackFinished follows anyway
            if exc.status != 404:
                raise CallGone(str(exc)) from None

    async def _play(self, action: Play):
        key, _ = await self._playback(self._media(action.items), action.escape)
        return PlaybackStopped(key)

    async def _collect(self, action: Collect):
        key, _ = await self._playback(self._media(action.items), ALL_KEYS)
        return await collect_digits(action, key, self._wait_for_digit)

    async def _wait_for_digit(self, timeout_ms: int) -> str | None:
        key, _ = await self._playback(silence(timeout_ms), ALL_KEYS)
        return key

    async def _play_audio(self, action: PlayAudio):
        audio = action.audio
        key, elapsed = await self._playback(
            [self._audio(audio.handle)], action.escape, action.offset_ms
        )
        if key is None:
            return PlaybackStopped(None, audio.length_ms)
        return PlaybackStopped(key, min(audio.length_ms, action.offset_ms + elapsed))

    async def _record(self, action: Record):
        self._recordings += 1
        name = recording_stem(self.info.call_id, self._recordings)
        if action.message_for:
            self.app.journal.open(name, self.info, action.message_for, action.max_s)
        await self._rest(
            "POST",
            f"{self._channel}/record",
            name=name,
            format="wav",
            maxDurationSeconds=action.max_s,
            maxSilenceSeconds=action.silence_s,
            beep=True,
            terminateOn="any",
            ifExists="overwrite",
        )
        failed = await self._recording_ends(name)
        recording = None if failed else await self._fetch(name, action.max_s)
        return RecordingFinished(recording, hung_up=self.hung_up or self.lost)

    async def _recording_ends(self, name: str) -> bool:
        """Wait for the recording to end (a hang-up does not stop the wait: its RecordingFinished follows);
        True when it failed."""
        while True:
            try:
                event = await self._event(stop_on_hangup=False)
            except CallGone:  # the websocket dropped: end the recording ourselves to keep it
                try:
                    await self.app.client.request(
                        "POST", f"/recordings/live/{quote(name, safe='')}/stop"
                    )
                except AriError as exc:
                    logger.warning(
                        "call %s: could not stop recording %s: %s", self.info.call_id, name, exc
                    )
                return False
            if _is(event, "RecordingFinished", "recording", name):
                return False
            if _is(event, "RecordingFailed", "recording", name):
                logger.warning(
                    "call %s: recording %s failed: %s",
                    self.info.call_id,
                    name,
                    event["recording"].get("cause", "no cause given"),
                )
                return True
            if event["type"] in ("StasisEnd", "ChannelDestroyed"):
                return False

    async def _fetch(self, name: str, max_s: int):
        """The stored recording `name`, copied to vmbox's recordings directory and deleted from Asterisk,
        cut to `max_s` seconds."""
        file = self.app.journal.directory / f"{name}.wav"
        fetched = await self.app.fetch_stored(name, file)
        if fetched:
            return recorded(file, max_s)
        if fetched is False:  # Asterisk keeps no recording of nothing (a key at once): too short
            logger.info("call %s: recording %s holds nothing", self.info.call_id, name)
            self.app.journal.close(name)
        else:  # Asterisk keeps it: a message is fetched and kept later (ivr/recordings.recover)
            logger.error(
                "call %s: recording %s could not be fetched (yet)", self.info.call_id, name
            )
        return None

    async def _finish(self, action) -> None:
        """Tell the dialplan how the call left vmbox; hang up when the flow says so."""
        try:
            if self.lost:
                await self._set(channel_vars.RESULT, channel_vars.FAILED)
                await self._rest("POST", f"{self._channel}/continue")
            elif isinstance(action, End) or self.hung_up:
                return
            elif isinstance(action, Transfer):
                result = (
                    channel_vars.OPERATOR if action.reason == "operator" else channel_vars.CALLBACK
                )
                await self._set(channel_vars.DESTINATION, action.number)
                await self._set(channel_vars.RESULT, result)
                await self._rest("POST", f"{self._channel}/continue")
            else:
                await self._set(channel_vars.RESULT, channel_vars.DONE)
                if isinstance(action, HangUp):
                    await self._rest("DELETE", self._channel)
        except CallGone:
            pass

    async def _set(self, name: str, value: str) -> None:
        await self._rest("POST", f"{self._channel}/variable", variable=name, value=value)


_CHANNEL = {
    Answer: AriCall._answer,
    Play: AriCall._play,
    Collect: AriCall._collect,
    PlayAudio: AriCall._play_audio,
    Record: AriCall._record,
}
