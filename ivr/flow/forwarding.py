"""Forwarding a message to another box, as it is or behind a spoken comment (KAZOO's prepend_forward).

Rules:
- The owner enters the mailbox; an invalid one (none, their own, unknown) is said and asked again,
  menu_retries times, then the message menu comes back with the message untouched.
- With `forward_comment` on, a valid mailbox leads to KAZOO's menu: 1 records a comment (instructions,
  beep, record, then the review menu: 1 keeps it and forwards, 2 plays it, 3 records it again), 2
  forwards the message as it is, 0 or `#` goes back to the message menu. The forwarded copy's audio is
  the comment, KAZOO's tone, then the message (joined by the services).
- A comment is never lost once recorded: hanging up while recording or reviewing it forwards it, as
  leaving a message does. A review left unanswered drops it and forwards nothing.
- A forwarded message counts as heard, so it moves to saved (KAZOO).
"""

from ivr.flow.actions import (
    End,
    FindForwardTarget,
    ForwardMessage,
    Play,
    Prompt,
    Record,
    SetFolder,
)
from ivr.flow.common import Step, ask, chose, retry, review_choice
from ivr.flow.events import (
    CallerHungUp,
    DigitsEntered,
    Done,
    Forwarded,
    ForwardTargetFound,
    PlaybackStopped,
    RecordingFinished,
)
from ivr.flow.mailbox import ask_forward, choice, file_as, message_menu
from ivr.flow.state import CallState, State

# KAZOO's forward menu keys (fixed there too).
WITH_COMMENT, AS_IT_IS, CANCEL = "1", "2", "0"


def forward_entered(ctx: CallState, event: DigitsEntered) -> Step:
    number = event.digits
    if not number or number == ctx.box.mailbox:
        return retry(ctx, ask_forward, notice="invalid_mailbox", exhausted=message_menu)
    if ctx.settings.forward_comment:
        ctx.forward_to = number
        return State.FINDING_FORWARD_TARGET, FindForwardTarget(ctx.box.id, number)
    return State.FORWARDING, ForwardMessage(ctx.box.id, ctx.message.id, number)


def target_found(ctx: CallState, event: ForwardTargetFound) -> Step:
    if not event.ok:
        ctx.forward_to = ""
        return retry(ctx, ask_forward, notice="invalid_mailbox", exhausted=message_menu)
    chose(ctx)
    return forward_menu(ctx)


def forward_menu(ctx: CallState) -> Step:
    return ask(ctx, State.FORWARD_MENU, (Prompt("forward_menu"),))


def forward_menu_choice(ctx: CallState, event: DigitsEntered) -> Step:
    key = choice(event)
    if key == WITH_COMMENT:
        chose(ctx)
        return State.COMMENT_INSTRUCTIONS, Play((Prompt("record_comment"),))
    if key == AS_IT_IS:
        return _forward(ctx)
    if key in (CANCEL, "#"):
        return _cancel(ctx)
    return retry(ctx, forward_menu, exhausted=_cancel)


def _cancel(ctx: CallState) -> Step:
    ctx.forward_to = ""
    chose(ctx)
    return message_menu(ctx)


def record_comment(ctx: CallState, event: PlaybackStopped | Done | None = None) -> Step:
    ctx.recording = None
    limits = ctx.settings.limits
    max_s = ctx.call.max_message_s or ctx.box.max_message_s or limits.max_message_s
    return State.RECORDING_COMMENT, Record(max_s, limits.silence_s)


def comment_recorded(ctx: CallState, event: RecordingFinished) -> Step:
    ctx.recording = event.recording
    if event.hung_up:
        return forward_after_hang_up(ctx)
    if event.recording is None:  # nothing was recorded: offer the menu again
        return forward_menu(ctx)
    return review_comment(ctx)


def review_comment(ctx: CallState) -> Step:
    return ask(ctx, State.COMMENT_REVIEW, (Prompt("review_recording"),))


def comment_reviewed(ctx: CallState, event: DigitsEntered) -> Step:
    return review_choice(
        ctx,
        event,
        keep=lambda ctx: _forward(ctx, ctx.recording),
        again=review_comment,
        states=(State.COMMENT_LISTENING, State.REDOING_COMMENT, State.DROPPING_COMMENT),
    )


def comment_heard(ctx: CallState, event: PlaybackStopped) -> Step:
    return review_comment(ctx)


def comment_dropped(ctx: CallState, event: Done) -> Step:
    ctx.recording, ctx.forward_to = None, ""
    chose(ctx)
    return message_menu(ctx)


def _forward(ctx: CallState, comment=None) -> Step:
    mailbox = ctx.forward_to
    ctx.recording, ctx.forward_to = None, ""
    return State.FORWARDING, ForwardMessage(ctx.box.id, ctx.message.id, mailbox, comment)


def forward_after_hang_up(ctx: CallState, event: CallerHungUp | None = None) -> Step:
    """The owner hung up with a comment recorded: forward it (never lose what was said)."""
    ctx.hung_up = True
    if ctx.recording is None:
        return State.FINISHED, End()
    return _forward(ctx, ctx.recording)


def forwarded(ctx: CallState, event: Forwarded) -> Step:
    if ctx.hung_up:  # a comment forwarded after the hang-up: file the message, nothing to say
        if not event.ok:
            return State.FINISHED, End()
        return State.KEEPING, SetFolder(ctx.box.id, ctx.message.id, "saved")
    if not event.ok:
        return retry(ctx, ask_forward, notice="invalid_mailbox", exhausted=message_menu)
    # As KAZOO does: a forwarded message counts as heard, so it moves to saved.
    return file_as(ctx, "saved", "forwarded")


TRANSITIONS = {
    (State.ASKING_FORWARD, DigitsEntered): forward_entered,
    (State.FINDING_FORWARD_TARGET, ForwardTargetFound): target_found,
    (State.FORWARD_MENU, DigitsEntered): forward_menu_choice,
    (State.COMMENT_INSTRUCTIONS, PlaybackStopped): record_comment,
    (State.RECORDING_COMMENT, RecordingFinished): comment_recorded,
    (State.RECORDING_COMMENT, CallerHungUp): forward_after_hang_up,
    (State.COMMENT_REVIEW, DigitsEntered): comment_reviewed,
    (State.COMMENT_REVIEW, CallerHungUp): forward_after_hang_up,
    (State.COMMENT_LISTENING, PlaybackStopped): comment_heard,
    (State.COMMENT_LISTENING, CallerHungUp): forward_after_hang_up,
    (State.REDOING_COMMENT, Done): record_comment,
    (State.DROPPING_COMMENT, Done): comment_dropped,
    (State.FORWARDING, Forwarded): forwarded,
}
