"""vmbox's Stasis application: reads the events of `Stasis(<app>,…)` calls and gives each call its
AriCall; places callback calls (POST /channels with app=…) and learns how they went.

Events are routed by channel: the event's `channel`, or the channel a playback or recording targets
(`target_uri` = channel:<id>). `StasisStart` with arguments starts a call:
  Stasis(vmbox,leave,<mailbox>[,operator=<ext>][,account=<id>])   leave a message
  Stasis(vmbox,check[,<mailbox>])   Stasis(vmbox,login)   Stasis(vmbox,callback,<mailbox>,account=<id>)
"""

import asyncio
import logging
import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from ivr import channel_vars
from ivr.ari.client import AriClient, AriDown, AriError
from ivr.ari.driver import LOST, AriCall
from ivr.ari.media import MediaGrants
from ivr.calls import describe_call, split_arguments
from ivr.flow.model import Settings
from ivr.recordings import Journal

logger = logging.getLogger(__name__)

# Hang-up causes (Q.850) of a callback channel that never answered, as the AMI reasons they mean.
ANSWERED, NO_ANSWER, BUSY, CONGESTION, FAILED = 4, 3, 5, 8, 0
_CAUSES = {
    16: NO_ANSWER,
    18: NO_ANSWER,
    19: NO_ANSWER,
    21: CONGESTION,
    17: BUSY,
    34: CONGESTION,
    38: CONGESTION,
    42: CONGESTION,
}


def channel_of(event: dict) -> str | None:
    """The id of the channel an event is about, if any."""
    if "channel" in event:
        return event["channel"].get("id")
    for key in ("playback", "recording"):
        target = event.get(key, {}).get("target_uri", "")
        if target.startswith("channel:"):
            return target[len("channel:") :]
    return None


class StasisApp:
    """The calls in vmbox's Stasis application; `run` it with the client's event stream."""

    def __init__(
        self,
        client: AriClient,
        services,
        prompts,
        flow_settings: Settings,
        journal: Journal,
        default_account: str,
        media: MediaGrants | None,
    ):
        self.client = client
        self.services = services
        self.prompts = prompts
        self.flow_settings = flow_settings
        self.journal = journal  # where recordings fetched from Asterisk go; messages being recorded
        self.default_account = default_account
        self.media = media  # None: Asterisk plays vmbox's audio from a shared directory
        self.calls: dict[str, AriCall] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._dialling: dict[str, asyncio.Future] = {}
        self.up = (
            asyncio.Event()
        )  # set while the events websocket is connected (the application registered)
        self._up_listeners: list = []

    def on_up(self, listener) -> None:
        """Call `listener()` after every registration: at start and after every reconnection."""
        self._up_listeners.append(listener)

    async def run(self) -> None:
        """Receive events until cancelled (reconnecting as the client does)."""
        await self.client.run(self.on_event, self._up, self._down)

    def _up(self) -> None:
        self.up.set()
        for listener in self._up_listeners:
            listener()

    def _down(self) -> None:
        self.up.clear()
        for call in self.calls.values():
            call.events.put_nowait(LOST)
        for waiting in self._dialling.values():
            if not waiting.done():
                waiting.set_exception(
                    AriError("the ARI events websocket dropped while the call rang")
                )

    def on_event(self, event: dict) -> None:
        """Route one event to its call (or start the call)."""
        channel = channel_of(event)
        if channel is None:
            return
        if event["type"] == "StasisStart":
            self._started(channel, event)
        elif event["type"] == "ChannelDestroyed" and channel in self._dialling:
            self._settle(channel, _CAUSES.get(event.get("cause", 0), FAILED))
        call = self.calls.get(channel)
        if call is not None and event["type"] != "StasisStart":
            call.events.put_nowait(event)

    def _started(self, channel_id: str, event: dict) -> None:
        if channel_id in self.calls:
            return
        self._settle(channel_id, ANSWERED)
        channel = event["channel"]
        caller = channel.get("caller", {})
        arguments, parameters = split_arguments(event.get("args", [])[1:])
        entry = (event.get("args") or [""])[0]
        try:
            info = describe_call(
                channel_id,
                entry,
                arguments,
                parameters,
                caller.get("number", ""),
                caller.get("name", ""),
                channel.get("name", ""),
            )
        except ValueError as exc:
            logger.error("call %s: %s", channel_id, exc)
            asyncio.get_running_loop().create_task(self._refuse(channel_id))
            return
        info = replace(info, account_id=info.account_id or self.default_account)
        logger.info(
            "call %s: %s over ARI, mailbox %s, from %r <%s> on %s",
            channel_id,
            info.purpose.value,
            info.mailbox or "-",
            info.caller_name,
            info.caller_number,
            info.channel,
        )
        call = AriCall(self, channel_id, info)
        self.calls[channel_id] = call
        self._tasks[channel_id] = asyncio.get_running_loop().create_task(self._run(call))

    async def _run(self, call: AriCall) -> None:
        try:
            await call.run()
        except (
            Exception
        ):  # one broken call must never take the application down; the traceback says why
            logger.exception("call %s failed", call.info.call_id)
        finally:
            self.calls.pop(call.channel_id, None)
            self._tasks.pop(call.channel_id, None)
            logger.info("call %s: ended", call.info.call_id)

    async def _refuse(self, channel_id: str) -> None:
        path = f"/channels/{quote(channel_id, safe='')}"
        try:
            await self.client.request(
                "POST", f"{path}/variable", variable=channel_vars.RESULT, value=channel_vars.FAILED
            )
            await self.client.request("POST", f"{path}/continue")
        except AriError as exc:
            logger.warning("call %s: %s", channel_id, exc)

    async def fetch_stored(self, name: str, file: Path) -> bool | None:
        """Copy Asterisk's stored recording `name` to `file` and delete it from Asterisk: True; False
        when Asterisk has no such recording; None when Asterisk cannot be asked now."""
        stored = f"/recordings/stored/{quote(name, safe='')}"
        try:
            audio = await self.client.download(stored + "/file")
        except AriDown:
            return None
        except AriError as exc:
            if exc.status == 404:
                return False
            logger.warning("recording %s could not be fetched: %s", name, exc)
            return None
        await asyncio.to_thread(file.write_bytes, audio)
        try:
            await self.client.request("DELETE", stored)
        except AriError as exc:
            logger.warning("recording %s stays on Asterisk: %s", name, exc)
        return True

    async def wait_idle(self) -> None:
        """Return once vmbox is done with every call it has now (their bookkeeping included)."""
        await asyncio.gather(
            *(asyncio.shield(task) for task in list(self._tasks.values())), return_exceptions=True
        )

    async def stop(self) -> None:
        """End the calls in progress (their flows keep what was recorded)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Callback calls.

    async def originate(
        self, endpoint: str, arguments: list[str], timeout_s: int, caller_id: str
    ) -> int:
        """Call `endpoint`; once answered it enters this application with `arguments`. Returns ANSWERED,
        NO_ANSWER, BUSY, CONGESTION or FAILED (AMI's reasons). Raises AriError (refused, or the websocket
        dropped while it rang), AriDown (unreachable)."""
        if not self.up.is_set():
            raise AriError("the ARI events websocket is not connected")
        # vmbox names the channel, so that its events (which may come before the answer to POST /channels)
        # find the call waiting for them.
        channel_id = f"vmbox-callback-{uuid.uuid4().hex}"
        waiting = self._dialling[channel_id] = asyncio.get_running_loop().create_future()
        try:
            await self.client.request(
                "POST",
                "/channels",
                endpoint=endpoint,
                app=self.client.app,
                appArgs=",".join(arguments),
                callerId=caller_id,
                timeout=timeout_s,
                channelId=channel_id,
            )
            return await asyncio.wait_for(asyncio.shield(waiting), timeout_s + 30)
        except TimeoutError:
            raise AriError(
                f"no answer nor hang-up from {endpoint} within {timeout_s + 30} s"
            ) from None
        finally:
            self._dialling.pop(channel_id, None)

    def _settle(self, channel_id: str, reason: int) -> None:
        waiting = self._dialling.get(channel_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(reason)
