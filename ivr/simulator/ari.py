"""A fake Asterisk ARI server for tests and benchmarks: real HTTP and a real websocket on loopback,
answering the requests vmbox's ARI driver makes as Asterisk does (status codes and JSON bodies) and
sending the events in Asterisk's order; each call is a scripted caller in virtual time (ari_channel.py).

It fails loudly: a request it does not expect (an unknown path or method, a missing parameter, a request
for a channel that never existed, a second playback while one runs) is recorded in `errors` (or in the
call's transcript) as well as refused. HTTP Basic auth is checked on every request and on the websocket.

Media are found as Asterisk finds them (ari_media.py), `sound:http://…` fetched from vmbox's media
server; stored recordings live in a spool directory of the fake's own. Message-waiting lamps
(res_ari_mailboxes) are ari_mailboxes.py's: their counts in `mailboxes`, every request in `lamps`.
"""

import asyncio
import base64
import itertools
import json
import logging
import re
import tempfile
from pathlib import Path

from aiohttp import web

from ivr.simulator.ari_channel import FakeChannel, Refused, now_utc
from ivr.simulator.ari_mailboxes import FakeMailboxes
from ivr.simulator.ari_media import SoundFiles
from ivr.simulator.audio import SoundError, speech
from ivr.simulator.caller import Caller
from ivr.simulator.channel import Channel
from ivr.simulator.script import Say, ScriptError, parse_script
from ivr.simulator.transcript import Transcript

logger = logging.getLogger(__name__)

_ids = itertools.count(1)
MAX_MEDIA = 127  # res_ari_channels.c: a list of 128 or more is refused


def media_list(value: str) -> list[str]:
    """A `media` query value as Asterisk reads it: one list, split at commas (ast_app_separate_args,
    which would also take quotes and brackets apart: the fake refuses those). Raises Refused."""
    if any(char in value for char in "\"'()[]\\"):
        raise Refused(
            400, f"media {value!r}: quotes, brackets and backslashes are not parsed as given"
        )
    media = value.split(",")
    if len(media) > MAX_MEDIA:
        raise Refused(400, "Too many values for media")
    return media


class FakeAri:
    """Asterisk's ARI for one Stasis application; `call()` places a scripted call into it."""

    def __init__(
        self,
        sounds_dir: Path,
        *,
        app: str = "vmbox",
        username: str = "vmbox",
        password: str = "secret",
        strict: bool = True,
    ):
        self.sounds_dir = sounds_dir
        self.app = app
        self.strict = strict
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._spool = tempfile.TemporaryDirectory(prefix="fake-ari-")
        self.spool = Path(self._spool.name)
        self.channels: dict[str, FakeChannel] = {}
        self.stored: dict[str, Path] = {}  # stored recordings by name
        self.live: dict[
            str, tuple[Path, dict]
        ] = {}  # recordings still running (the app lost its events)
        self.errors: list[str] = []
        self.connections = 0  # websocket connections so far
        # Drop the application's websocket when a playback reaches this sound, or (`"recording"`) instead
        # of finishing the next recording; once.
        self.drop_on: str | None = None
        # Hold a playback when it reaches this sound, as a long prompt would (`holding` is set), until the
        # application stops it or the channel leaves the application.
        self.hold_on: str | None = None
        self.holding = asyncio.Event()
        self.callees: dict[
            str, str
        ] = {}  # endpoint -> the script of whoever answers calls to it (else no answer)
        self.originated: asyncio.Queue[Transcript | None] = (
            asyncio.Queue()
        )  # each originated call, None: unanswered
        self.requests = 0
        self.lamp_server = FakeMailboxes(self.errors)
        self.mailboxes = self.lamp_server.state  # res_mwi_external's mailboxes: name -> (new, old)
        self.lamps = (
            self.lamp_server.requests
        )  # each lamp request: ("PUT", name, new, old) or ("DELETE", name)
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.media: SoundFiles | None = None  # made in start(): it needs the running loop

    # Server.

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; the base URL (http://host:port) to configure vmbox with."""
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.media = SoundFiles(self.sounds_dir, self.spool, self.strict)
        bound = self._runner.addresses[0]
        return f"http://{bound[0]}:{bound[1]}"

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self.media is not None:
            await self.media.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._spool.cleanup()

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == self._auth

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        if request.query.get("app") != self.app:
            self.errors.append(
                f"events websocket for app {request.query.get('app')!r}, expected {self.app!r}"
            )
            return web.json_response(
                {"message": "Invalid application provided in param [app]."}, status=400
            )
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._outbox = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._write(socket, self._outbox))
        self._socket = socket
        async with self._connected:
            self.connections += 1
            self._connected.notify_all()
        try:
            async for _ in socket:
                pass  # the application sends nothing on it
        finally:
            writer.cancel()
            if self._socket is socket:
                self._socket = None
        return socket

    async def _write(self, socket: web.WebSocketResponse, outbox: asyncio.Queue) -> None:
        """Send queued events one by one, in order."""
        while True:
            event = await outbox.get()
            try:
                await socket.send_str(json.dumps(event))
            except ConnectionError:
                return

    async def wait_connected(self, count: int = 1) -> None:
        """Return once the application has connected its websocket `count` times in all."""
        async with self._connected:
            await self._connected.wait_for(
                lambda: self.connections >= count and self._socket is not None
            )

    def send(self, event: dict) -> None:
        """Send an event to the application (lost, as in Asterisk, when its websocket is not connected)."""
        if self._socket is not None and not self._socket.closed:
            self._outbox.put_nowait(event)

    async def drop_events(self) -> None:
        """Close the application's websocket (Asterisk restarting, a network cut)."""
        if self._socket is not None:
            socket, self._socket = self._socket, None
            await socket.close()

    async def wait_lamps(self, count: int) -> list[tuple]:
        """The first `count` lamp requests (PUT and DELETE /mailboxes/…), once that many have come."""
        return await self.lamp_server.wait(count)

    # Calls.

    async def call(
        self,
        script: str = "",
        *,
        args: list[str],
        caller_number: str = "",
        caller_name: str = "",
        channel: str | None = None,
        timeout: float = 30.0,
    ) -> Transcript:
        """Place one call into the application with Stasis arguments `args`; its transcript once it has
        left the application (hung up, or continued in the dialplan)."""
        steps = parse_script(script)
        for step in steps:
            if isinstance(step, Say):
                try:
                    await asyncio.to_thread(speech, step.audio)
                except (SoundError, OSError) as exc:
                    raise ScriptError(f"cannot use the audio of `say`: {exc}") from None
        await self.wait_connected()
        sequence = next(_ids)
        return await self._run(
            FakeChannel(
                self,
                Channel(
                    name=channel or f"PJSIP/{caller_number or 'anonymous'}-{sequence:08x}",
                    uniqueid=f"{int(now_utc().timestamp())}.{sequence}",
                    caller_number=caller_number,
                    caller_name=caller_name,
                ),
                Caller(steps),
                now_utc(),
            ),
            args,
            timeout,
        )

    async def _run(self, fake: FakeChannel, args: list[str], timeout: float) -> Transcript:
        self.channels[fake.id] = fake
        fake.start([*args])
        try:
            async with asyncio.timeout(timeout):
                await fake.ended.wait()
                if fake.busy:
                    await fake.busy
        except TimeoutError:
            fake.error(f"the application did not end the call within {timeout:g} s of real time")
        return fake.finish()

    # REST.

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        route = f"{request.method} {request.path}"
        for pattern, handler in _ROUTES:
            match = re.fullmatch(pattern, route)
            if match:
                try:
                    return await handler(self, request, *match.groups())
                except Refused as exc:
                    return web.json_response({"message": str(exc)}, status=exc.status)
        self.errors.append(f"unexpected request {route}?{request.query_string}")
        return web.json_response({"message": "Resource not found"}, status=404)

    def _channel(self, channel_id: str) -> FakeChannel:
        channel = self.channels.get(channel_id)
        if channel is None:
            self.errors.append(f"a request for channel {channel_id}, which never existed")
            raise Refused(404, "Channel not found")
        channel.transcript.commands += 1
        channel.check_hangup()
        return channel

    def _param(self, request: web.Request, name: str, channel: FakeChannel | None = None) -> str:
        value = request.query.get(name)
        if value is None:
            (channel.error if channel else self.errors.append)(
                f"{request.method} {request.path} without {name}"
            )
            raise Refused(400, f"{name}: Missing required parameter")
        return value

    async def _answer(self, request, channel_id):
        self._channel(channel_id)
        return web.Response(status=204)

    async def _play(self, request, channel_id):
        channel = self._channel(channel_id)
        given = request.query.getall("media", [])
        if not given:
            channel.error("play without media")
            raise Refused(400, "media: Missing required parameter")
        if len(given) > 1:  # Asterisk would play the last list alone: a prompt cut to its end
            channel.error(
                f"media given {len(given)} times: Asterisk plays only the last, {given[-1]!r}"
            )
        media = media_list(given[-1])
        playback_id = self._param(request, "playbackId", channel)
        offset = int(request.query.get("offsetms", "0"))
        return web.json_response(channel.play(playback_id, media, offset), status=201)

    async def _stop_playback(self, request, playback_id):
        for channel in self.channels.values():
            try:
                channel.stop_playback(playback_id)
                return web.Response(status=204)
            except Refused:
                continue
        raise Refused(404, "Playback not found")

    async def _record(self, request, channel_id):
        channel = self._channel(channel_id)
        name = self._param(request, "name", channel)
        if (
            request.query.get("ifExists", "fail") == "fail"
            and (self.spool / f"{name}.wav").exists()
        ):
            raise Refused(422, "Recording already exists")
        live = channel.record(
            name,
            self._param(request, "format", channel),
            int(request.query.get("maxDurationSeconds", "0")),
            int(request.query.get("maxSilenceSeconds", "0")),
            request.query.get("beep", "false") == "true",
            request.query.get("terminateOn", "none"),
        )
        return web.json_response(live, status=201)

    async def _stop_live(self, request, name):
        if name not in self.live:
            raise Refused(404, "Recording not found")
        path, _ = self.live.pop(name)
        self.stored[name] = path
        return web.Response(status=204)

    async def _stored_file(self, request, name):
        if name not in self.stored:
            raise Refused(404, "Recording not found")
        return web.Response(body=self.stored[name].read_bytes(), content_type="audio/wav")

    async def _delete_stored(self, request, name):
        path = self.stored.pop(name, None)
        if path is None:
            raise Refused(404, "Recording not found")
        path.unlink(missing_ok=True)
        return web.Response(status=204)

    async def _variable(self, request, channel_id):
        channel = self._channel(channel_id)
        name = self._param(request, "variable", channel)
        channel.transcript.variables[name] = request.query.get("value", "")
        return web.Response(status=204)

    async def _continue(self, request, channel_id):
        self._channel(channel_id).continue_in_dialplan()
        return web.Response(status=204)

    async def _originate(self, request):
        """POST /channels with app: a call out; answered (`callees`), it enters the application."""
        endpoint = self._param(request, "endpoint")
        if self._param(request, "app") != self.app:
            self.errors.append(
                f"originate into app {request.query['app']!r}, expected {self.app!r}"
            )
        sequence = next(_ids)
        channel = Channel(
            name=f"{endpoint};{sequence}",
            uniqueid=request.query.get("channelId") or f"out.{sequence}",
        )
        fake = FakeChannel(
            self, channel, Caller(parse_script(self.callees.get(endpoint, ""))), now_utc()
        )
        args = [arg for arg in request.query.get("appArgs", "").split(",") if arg]
        if endpoint in self.callees:
            task = asyncio.get_running_loop().create_task(self._run(fake, args, 30.0))
            task.add_done_callback(lambda done: self.originated.put_nowait(done.result()))
        else:
            asyncio.get_running_loop().call_soon(self._unanswered, fake)
        return web.json_response(fake.snapshot())

    def _unanswered(self, fake: FakeChannel) -> None:
        fake.emit(
            "ChannelDestroyed", cause=19, cause_txt="No user responding", channel=fake.snapshot()
        )
        self.originated.put_nowait(None)

    async def _put_mailbox(self, request, name):
        return await self.lamp_server.put(request, name)

    async def _delete_mailbox(self, request, name):
        return await self.lamp_server.delete(request, name)

    async def _hang_up(self, request, channel_id):
        self._channel(channel_id).hang_up()
        return web.Response(status=204)


_NAME = r"([^/]+)"
_ROUTES = [
    (rf"POST /ari/channels/{_NAME}/answer", FakeAri._answer),
    (rf"POST /ari/channels/{_NAME}/play", FakeAri._play),
    (rf"DELETE /ari/playbacks/{_NAME}", FakeAri._stop_playback),
    (rf"POST /ari/channels/{_NAME}/record", FakeAri._record),
    (rf"POST /ari/recordings/live/{_NAME}/stop", FakeAri._stop_live),
    (rf"GET /ari/recordings/stored/{_NAME}/file", FakeAri._stored_file),
    (rf"DELETE /ari/recordings/stored/{_NAME}", FakeAri._delete_stored),
    (rf"POST /ari/channels/{_NAME}/variable", FakeAri._variable),
    (rf"POST /ari/channels/{_NAME}/continue", FakeAri._continue),
    (rf"DELETE /ari/channels/{_NAME}", FakeAri._hang_up),
    (r"POST /ari/channels", FakeAri._originate),
    (rf"PUT /ari/mailboxes/{_NAME}", FakeAri._put_mailbox),
    (rf"DELETE /ari/mailboxes/{_NAME}", FakeAri._delete_mailbox),
]
