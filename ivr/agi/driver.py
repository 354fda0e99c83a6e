"""Runs the call flow over a FastAGI connection: each channel action becomes AGI commands, each
reply becomes the flow's next event; store actions go to the shared services.

Commands sent (arguments always quoted by protocol.command, so caller-controlled text cannot inject):
  ANSWER
  STREAM FILE "<sound>" "<escape>" ["<offset samples>"]
  SAY NUMBER "<n>" "<escape>" | SAY DIGITS "<digits>" "<escape>"
  SAY DATETIME "<unix>" "<escape>" "ABdY 'digits/at' IMp" "<timezone>"
  WAIT FOR DIGIT "<ms>"
  RECORD FILE "<path>" "wav" "<escape>" "<max ms>" "BEEP" "s=<silence s>"
  SET VARIABLE "<name>" "<value>"
  HANGUP
Playback and recording offsets are in samples at 8 kHz (what Asterisk reports for wav).
"""

import logging
from dataclasses import replace
from pathlib import Path

from ivr import channel_vars
from ivr.agi.connection import AgiConnection, AgiRequest, CallGone
from ivr.agi.protocol import command
from ivr.calls import (
    ALL_KEYS,
    DATE_FORMAT,
    collect_digits,
    describe_call,
    drive,
    recorded,
    recording_stem,
)
from ivr.flow.actions import (
    Answer,
    Collect,
    DateTime,
    Digits,
    End,
    HangUp,
    Number,
    Play,
    PlayAudio,
    Prompt,
    Record,
    Sound,
    Transfer,
)
from ivr.flow.events import CallerHungUp, Done, PlaybackStopped, RecordingFinished
from ivr.flow.machine import Flow
from ivr.flow.model import CallInfo, Recording, Settings
from ivr.recordings import Journal
from store.audio import SAMPLE_RATE

logger = logging.getLogger(__name__)

SAMPLES_PER_MS = SAMPLE_RATE // 1000


def call_info(request: AgiRequest) -> CallInfo:
    """The call as the flow sees it. Raises ValueError for an unknown script name."""
    headers = request.headers
    return describe_call(
        request.call_id,
        request.script,
        request.arguments,
        request.parameters,
        headers.get("agi_callerid", ""),
        headers.get("agi_calleridname", ""),
        headers.get("agi_channel", ""),
    )


def _without_wav(path: str) -> str:
    return path[:-4] if path.endswith(".wav") else path


class AgiCall:
    """One call: the flow, the connection, and the services for store actions."""

    def __init__(
        self,
        connection: AgiConnection,
        info: CallInfo,
        services,
        prompts,
        settings: Settings,
        journal: Journal,
    ):
        self.connection = connection
        self.info = info
        self.services = services
        self.prompts = prompts
        self.flow = Flow(info, settings)
        self.journal = (
            journal  # where Asterisk records (its directory), and what messages are being
        )
        self._recordings = 0

    async def run(self) -> None:
        """Drive the flow to its end; after a hang-up (or a dropped connection) finish the bookkeeping.
        A message still being recorded when vmbox stops stays in the journal: Asterisk goes on recording
        it without vmbox, and ivr/recordings.recover keeps it once it is finished."""
        try:
            await self._finish(await drive(self.flow, self.info, self.services, self.execute))
        finally:
            self.journal.release_call(self.info.call_id, self._recordings)

    async def execute(self, action) -> object:
        """Carry out one action; return the event that answers it."""
        runner = _CHANNEL.get(type(action))
        if runner is None:
            return await self.services.run(self.info, action)
        try:
            return await runner(self, action)
        except CallGone:
            return CallerHungUp()

    async def _send(self, verb: str, *arguments: object):
        reply = await self.connection.send(command(verb, *arguments))
        if reply.code != 200:
            raise CallGone(f"{verb} refused: {reply.text}")
        return reply

    async def _answer(self, action: Answer):
        reply = await self._send("ANSWER")
        return CallerHungUp() if reply.number == -1 else Done()

    def _say(self, item, escape: str) -> tuple:
        if isinstance(item, Prompt):
            return "STREAM FILE", self.prompts.sound(item.name), escape
        if isinstance(item, Number):
            return "SAY NUMBER", item.value, escape
        if isinstance(item, Digits):
            return "SAY DIGITS", "".join(c for c in item.value if c in ALL_KEYS) or "0", escape
        if isinstance(item, DateTime):
            return "SAY DATETIME", item.unix, escape, DATE_FORMAT, item.timezone
        if isinstance(item, Sound):
            return "STREAM FILE", _without_wav(item.audio.handle), escape
        raise TypeError(f"cannot say {item!r}")

    async def _play_items(self, items, escape: str) -> str | None:
        """Say items in order; the key that stopped them, or None. Raises CallGone."""
        for item in items:
            reply = await self._send(*self._say(item, escape))
            if reply.number == -1:
                if self.connection.hung_up:
                    raise CallGone("hung up during playback")
                # -1 without a HANGUP line yet: a missing file, or a hang-up whose HANGUP line follows.
                logger.warning(
                    "call %s: %r did not play (missing file, or the caller hung up)",
                    self.info.call_id,
                    item,
                )
                continue
            if reply.number:
                return chr(reply.number)
        return None

    async def _play(self, action: Play):
        return PlaybackStopped(await self._play_items(action.items, action.escape))

    async def _collect(self, action: Collect):
        return await collect_digits(
            action, await self._play_items(action.items, ALL_KEYS), self._wait_for_digit
        )

    async def _wait_for_digit(self, timeout_ms: int) -> str | None:
        reply = await self._send("WAIT FOR DIGIT", timeout_ms)
        if reply.number == -1:
            raise CallGone("hung up while collecting digits")
        return chr(reply.number) if reply.number else None

    async def _play_audio(self, action: PlayAudio):
        audio = action.audio
        reply = await self._send(
            "STREAM FILE",
            _without_wav(audio.handle),
            action.escape,
            action.offset_ms * SAMPLES_PER_MS,
        )
        if reply.number == -1:
            if self.connection.hung_up:
                raise CallGone("hung up during playback")
            logger.warning("call %s: could not play %s", self.info.call_id, audio.handle)
            return PlaybackStopped(None, audio.length_ms)
        if not reply.number:
            return PlaybackStopped(None, audio.length_ms)
        offset = (reply.endpos or 0) // SAMPLES_PER_MS
        return PlaybackStopped(chr(reply.number), offset)

    async def _record(self, action: Record):
        self._recordings += 1
        stem = recording_stem(self.info.call_id, self._recordings)
        path = self.journal.directory / stem
        if action.message_for:
            self.journal.open(stem, self.info, action.message_for, action.max_s)
        try:
            reply = await self._send(
                "RECORD FILE",
                path,
                "wav",
                ALL_KEYS,
                action.max_s * 1000,
                "BEEP",
                f"s={action.silence_s}",
            )
        except CallGone:
            return RecordingFinished(self._recorded(path), hung_up=True)
        if reply.data == "writefile":
            logger.error(
                "call %s: Asterisk cannot write %s: check recordings_dir is shared and writable",
                self.info.call_id,
                path,
            )
        hung_up = reply.number == -1 and (reply.data == "hangup" or self.connection.hung_up)
        return RecordingFinished(self._recorded(path), hung_up=hung_up)

    def _recorded(self, path: Path) -> Recording | None:
        return recorded(path.with_name(path.name + ".wav"))

    async def _finish(self, action) -> None:
        """Tell the dialplan how the call left vmbox; hang up when the flow says so."""
        if isinstance(action, End) or self.connection.hung_up:
            return
        try:
            if isinstance(action, Transfer):
                result = (
                    channel_vars.OPERATOR if action.reason == "operator" else channel_vars.CALLBACK
                )
                await self._send("SET VARIABLE", channel_vars.DESTINATION, action.number)
                await self._send("SET VARIABLE", channel_vars.RESULT, result)
                return
            await self._send("SET VARIABLE", channel_vars.RESULT, channel_vars.DONE)
            if isinstance(action, HangUp):
                await self._send("HANGUP")
        except CallGone:
            pass


_CHANNEL = {
    Answer: AgiCall._answer,
    Play: AgiCall._play,
    Collect: AgiCall._collect,
    PlayAudio: AgiCall._play_audio,
    Record: AgiCall._record,
}


def call_handler(services, prompts, settings: Settings, journal: Journal, default_account: str):
    """The FastAGI server's handler: each connection becomes one AgiCall for its account."""

    async def handle(connection: AgiConnection, request: AgiRequest) -> None:
        if request.script == channel_vars.DOCTOR:  # `vmbox doctor` checking Asterisk reaches us
            logger.info("call %s: vmbox doctor's probe call reached vmbox", request.call_id)
            await connection.send(command("SET VARIABLE", channel_vars.RESULT, channel_vars.DOCTOR))
            return
        try:
            info = call_info(request)
        except ValueError as exc:
            logger.error("call %s: %s", request.call_id, exc)
            await connection.send(command("SET VARIABLE", channel_vars.RESULT, channel_vars.FAILED))
            return
        info = replace(info, account_id=info.account_id or default_account)
        logger.info(
            "call %s: %s, mailbox %s, from %r <%s> on %s",
            info.call_id,
            info.purpose.value,
            info.mailbox or "-",
            info.caller_name,
            info.caller_number,
            info.channel,
        )
        await AgiCall(connection, info, services, prompts, settings, journal).run()
        logger.info("call %s: ended", info.call_id)

    return handle
