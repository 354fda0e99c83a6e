"""Asterisk's manager interface for the test harness: actions answered by ActionID, and every event
handed, in order, to the listeners. Small on purpose: the harness needs no more, and vmbox's own AMI
side (ivr/notify/ami.py) is what the tests test, not what they test with."""

import asyncio
import itertools
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

Message = dict[
    str, str
]  # a repeated header's values are joined by newlines (a Command's Output lines)


class AmiError(Exception):
    """Asterisk refused an action, or the connection is gone."""


class Ami:
    """One logged-in AMI connection."""

    def __init__(self):
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future] = {}
        self._listeners: list[Callable[[Message], None]] = []
        self._task: asyncio.Task | None = None

    async def connect(self, host: str, port: int, username: str, secret: str) -> None:
        """Connect and log in (events on). Raises OSError, AmiError."""
        self._reader, self._writer = await asyncio.open_connection(host, port)
        await self._reader.readline()  # "Asterisk Call Manager/…"
        self._task = asyncio.get_running_loop().create_task(self._read())
        await self.action("Login", Username=username, Secret=secret, Events="on")

    def listen(self, listener: Callable[[Message], None]) -> Callable[[], None]:
        """Call `listener(event)` for every event from now on; returns what stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def action(self, name: str, action_id: str = "", **headers) -> Message:
        """Send an action (with `action_id`, or one of ours) and return its response. A header given a
        list is sent once per item. Raises AmiError for `Response: Error`."""
        if self._writer is None or self._task is None or self._task.done():
            raise AmiError(f"{name}: not connected")
        action_id = action_id or f"t{next(self._ids)}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        for key, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key}: {item}")
        reply = asyncio.get_running_loop().create_future()
        self._pending[action_id] = reply
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        response = await reply
        if response.get("Response") == "Error":
            raise AmiError(f"{name}: {response.get('Message', response)}")
        return response

    async def _read(self) -> None:
        block: Message = {}
        try:
            while line := await self._reader.readline():
                text = line.decode(errors="replace").rstrip("\r\n")
                if text:
                    key, _, value = text.partition(":")
                    key, value = key.strip(), value.strip()
                    block[key] = f"{block[key]}\n{value}" if key in block else value
                    continue
                if "Event" in block:
                    for listener in list(self._listeners):
                        listener(block)
                elif (
                    reply := self._pending.pop(block.get("ActionID", ""), None)
                ) and not reply.done():
                    reply.set_result(block)
                block = {}
        finally:
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(AmiError("the AMI connection closed"))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
