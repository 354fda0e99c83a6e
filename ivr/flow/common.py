"""Steps shared by every part of the flow: saying goodbye, menus with a retry limit, entry points.

A step is (next state, action). Entry points (`enter_*`) are here rather than in their own modules so
that parts of the flow can hand over to each other without importing each other.
"""

from collections.abc import Callable
from dataclasses import replace

from ivr.flow.actions import (
    Action,
    Collect,
    DiscardRecording,
    End,
    HangUp,
    LoadMessages,
    Play,
    PlayAudio,
    Prompt,
    Record,
    SaveMessage,
    Say,
)
from ivr.flow.events import DigitsEntered
from ivr.flow.model import Audio
from ivr.flow.state import CallState, State

Step = tuple[State, Action]
ALL_KEYS = "0123456789*#"


def goodbye(ctx: CallState) -> Step:
    return State.ENDING, Play((Prompt("goodbye"),))


def hang_up(ctx: CallState, event=None) -> Step:
    return State.FINISHED, HangUp()


def collect(ctx: CallState, items: tuple[Say, ...], max_digits: int = 1) -> Step:
    """A Collect with the configured timeouts (the state is set by the caller)."""
    limits = ctx.settings.limits
    return ctx.state, Collect(items, max_digits, limits.first_digit_ms, limits.next_digit_ms)


def ask(ctx: CallState, state: State, items: tuple[Say, ...], max_digits: int = 1) -> Step:
    return state, collect(ctx, items, max_digits)[1]


def retry(
    ctx: CallState,
    again: Callable[[CallState], Step],
    notice: str | None = "invalid_choice",
    exhausted: Callable[[CallState], Step] = goodbye,
    rounds: int = 0,
) -> Step:
    """Count a failed menu choice and ask again, after `notice` when there is one (KAZOO's main,
    review and options menus have none). After `rounds` rounds without a valid choice ([limits]
    menu_retries when 0) go to `exhausted`: goodbye, unless the menu has something better to do."""
    ctx.menu_failures += 1
    if ctx.menu_failures >= (rounds or ctx.settings.limits.menu_retries):
        return exhausted(ctx)
    state, action = again(ctx)
    if notice and isinstance(action, Collect):
        action = replace(action, items=(Prompt(notice), *action.items))
    return state, action


def chose(ctx: CallState) -> None:
    """A valid menu choice: the retry count starts again."""
    ctx.menu_failures = 0


def review_choice(
    ctx: CallState,
    event: DigitsEntered,
    keep: Callable[[CallState], Step],
    again: Callable[[CallState], Step],
    states: tuple[State, State, State],
) -> Step:
    """The review of a greeting or a forward's comment (`ctx.recording`): the save key keeps it, listen
    plays it, record discards it to record again (`states`: listening, redoing, dropping); after
    review_rounds rounds without a choice (KAZOO's, silent) it is dropped."""
    keys, recording = ctx.settings.keys, ctx.recording
    listening, redoing, dropping = states
    if event.digits == keys.save:
        return keep(ctx)
    if event.digits == keys.listen:
        chose(ctx)
        return listening, PlayAudio(Audio(recording.handle, recording.length_ms), 0, ALL_KEYS)
    if event.digits == keys.record:
        chose(ctx)
        return redoing, DiscardRecording(recording)
    return retry(
        ctx,
        again,
        notice=None,
        rounds=ctx.settings.limits.review_rounds,
        exhausted=lambda ctx: (dropping, DiscardRecording(ctx.recording)),
    )


def record_message(ctx: CallState) -> Step:
    """Record a message for the box, as long as the dialplan allows, else the box, else [limits]
    (KAZOO's order: the callflow's max_message_length, the box's, the system's)."""
    limits = ctx.settings.limits
    max_s = ctx.call.max_message_s or ctx.box.max_message_s or limits.max_message_s
    return State.RECORDING, Record(max_s, limits.silence_s, ctx.box.id)


def keep_or_drop(ctx: CallState, event=None) -> Step:
    """After a hang-up: keep the recording if it is long enough (a caller's message is never lost), else drop it."""
    ctx.hung_up = True
    recording = ctx.recording
    if recording is None:
        return State.FINISHED, End()
    if recording.length_ms >= ctx.settings.limits.min_message_ms:
        return State.KEEPING, SaveMessage(ctx.box.id, recording)
    return State.DROPPING, DiscardRecording(recording)


def ended(ctx: CallState, event=None) -> Step:
    ctx.hung_up = True
    return State.FINISHED, End()


def enter_main_menu(ctx: CallState) -> Step:
    return State.LOADING, LoadMessages(ctx.box.id, ctx.box.oldest_message_first)


def options_menu(ctx: CallState) -> Step:
    """Ask the configuration menu, the announcement-only box's saying so (KAZOO's
    vm-settings_menu_announcement_on); a retry asks this again: it must not reset the retry count."""
    menu = "options_menu_announcement_on" if ctx.box.announcement_only else "options_menu"
    return ask(ctx, State.OPTIONS_MENU, (Prompt(menu),))


def enter_options(ctx: CallState) -> Step:
    """Come to the configuration menu from elsewhere: a fresh retry count."""
    chose(ctx)
    return options_menu(ctx)
