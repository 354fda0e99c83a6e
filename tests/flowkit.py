"""Driving the pure call flow in tests: no event loop, no I/O, just events in and actions out."""

from dataclasses import replace

from ivr.flow.actions import Collect, Play, Prompt
from ivr.flow.machine import Flow
from ivr.flow.model import Audio, Box, CallInfo, Limits, Message, Purpose, Recording, Settings

BOX = Box(id="b" * 32, mailbox="3000", is_owner=False, has_pin=True)
GREETING = Audio("greeting-unavailable", 4000)
TEMPORARY = Audio("greeting-temporary", 3000)
RECORDING = Recording("rec-1", 5000)
SHORT = Recording("rec-short", 200)


def box(**changes) -> Box:
    return replace(BOX, **changes)


def message(n: int, folder: str = "new", length_ms: int = 30_000, number: str = "1001") -> Message:
    return Message(
        f"202611-{n:032x}",
        folder,
        1_790_000_000 + n,
        number,
        f"Caller {n}",
        Audio(f"msg-{n}", length_ms),
    )


class Call:
    """One call through the flow; `action` is the flow's latest action."""

    def __init__(
        self,
        purpose: Purpose = Purpose.LEAVE,
        mailbox: str | None = "3000",
        settings: Settings | None = None,
        **info,
    ):
        self.flow = Flow(CallInfo("test-call", purpose, mailbox, **info), settings or Settings())
        self.action = self.flow.start()

    def reply(self, event):
        self.action = self.flow.handle(event)
        return self.action

    def said(self) -> list:
        """What the current Play or Collect says: prompt names as strings, other items as they are."""
        assert isinstance(self.action, (Play, Collect)), self.action
        return [item.name if isinstance(item, Prompt) else item for item in self.action.items]


def settings(**limits) -> Settings:
    return Settings(limits=Limits(**limits))
