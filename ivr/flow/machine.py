"""The call flow: one table of (state, event) -> handler, and the `Flow` that runs it.

Rules (h11-style: everything that affects the flow lives in the table):
- The flow is pure: events in, one action out, no I/O, no asyncio (a test checks its imports).
- A (state, event) pair the table lacks ends the call politely (goodbye, then hang up) and is
  recorded in `problems` for the driver to log; it never raises into the driver.
- After the caller hangs up, only bookkeeping follows: a message being left is saved (or, if shorter
  than min_message_ms, discarded), a greeting being recorded is discarded, a recorded forward comment
  is forwarded; never a channel action.
"""

from ivr.flow import access, deposit, forwarding, mailbox, options, personal
from ivr.flow.actions import (
    CHANNEL_ACTIONS,
    FINAL_ACTIONS,
    Action,
    Answer,
    End,
    FindBox,
    HangUp,
    Play,
    Prompt,
)
from ivr.flow.common import Step, ended, hang_up, keep_or_drop
from ivr.flow.events import CallerHungUp, CallStarted, Done, Event, PlaybackStopped
from ivr.flow.model import CallInfo, Purpose, Settings
from ivr.flow.state import CallState, State


def started(ctx: CallState, event: CallStarted) -> Step:
    return State.ANSWERING, Answer()


def answered(ctx: CallState, event: Done) -> Step:
    call = ctx.call
    if call.purpose is Purpose.LEAVE:
        return State.FINDING_BOX, FindBox(call.mailbox or "")
    if call.purpose is Purpose.CALLBACK:
        return State.FINDING_CALLBACK_BOX, FindBox(call.mailbox or "")
    if call.mailbox:
        return State.FINDING_BOX_TO_CHECK, FindBox(call.mailbox)
    return access.enter_login(ctx, None) if call.find_own_box else access.ask_mailbox(ctx)


def hung_up(ctx: CallState, event: CallerHungUp) -> Step:
    """The default after a hang-up: keep a message being left, drop a greeting being recorded, forward
    a message behind its recorded comment, else end."""
    return left_behind(ctx) if ctx.recording is not None else ended(ctx)


def left_behind(ctx: CallState) -> Step:
    """The call is over with a recording not yet kept: what becomes of it."""
    ctx.hung_up = True
    if ctx.greeting_kind:
        return personal.drop(ctx)
    if ctx.forward_to:
        return forwarding.forward_after_hang_up(ctx)
    return keep_or_drop(ctx)


TRANSITIONS = {
    (State.STARTING, CallStarted): started,
    (State.ANSWERING, Done): answered,
    (State.ENDING, PlaybackStopped): hang_up,
    (State.SAVED, PlaybackStopped): hang_up,
    (State.KEEPING, Done): ended,
    (State.DROPPING, Done): ended,
    **deposit.TRANSITIONS,
    **access.TRANSITIONS,
    **personal.TRANSITIONS,
    **mailbox.TRANSITIONS,
    **forwarding.TRANSITIONS,
    **options.TRANSITIONS,
}


class Flow:
    """One call's flow. `start()` gives the first action; `handle(event)` answers each action's event
    with the next action, until a final one (Transfer, HangUp, End)."""

    def __init__(self, call: CallInfo, settings: Settings | None = None):
        self._ctx = CallState(call, settings or Settings())

    @property
    def state(self) -> State:
        return self._ctx.state

    @property
    def finished(self) -> bool:
        return self._ctx.state is State.FINISHED

    @property
    def problems(self) -> list[str]:
        """What went unexpectedly (missing transitions); the driver logs them with the call id."""
        return self._ctx.problems

    def start(self) -> Action:
        return self.handle(CallStarted(self._ctx.call))

    def handle(self, event: Event) -> Action:
        ctx = self._ctx
        if ctx.state is State.FINISHED:
            raise RuntimeError(f"event {event!r} after the call's flow finished")
        handler = TRANSITIONS.get((ctx.state, type(event)))
        if handler is None and isinstance(event, CallerHungUp):
            handler = hung_up
        if handler is None:
            return self._unexpected(event)
        state, action = handler(ctx, event)
        if ctx.hung_up and isinstance(action, CHANNEL_ACTIONS):
            ctx.problems.append(f"channel action {action!r} after hang-up in {state}")
            state, action = State.FINISHED, End()
        ctx.state = State.FINISHED if isinstance(action, FINAL_ACTIONS) else state
        return action

    def _unexpected(self, event: Event) -> Action:
        ctx = self._ctx
        ctx.problems.append(f"no transition for {type(event).__name__} in state {ctx.state.value}")
        if ctx.recording is not None:  # never lose what a caller left, nor leave a recording behind
            ctx.state, action = left_behind(ctx)
            return action
        if ctx.state is State.ENDING:
            ctx.state = State.FINISHED
            return HangUp(ctx.problems[-1])
        ctx.state = State.ENDING
        return Play((Prompt("goodbye"),))
