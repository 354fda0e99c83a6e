"""Leaving a message.

Rules: the box is looked up by the dialled number; an unknown box says so and ends; the owner calling
their own box goes to their messages when it has check_if_owner, or is announcement only (KAZOO's
order); an announcement-only box plays its greeting, then goodbye; a full box plays its greeting and
the notice and records nothing; during the greeting `*` logs in to the box, `0` goes to the operator,
any other key skips to the beep. Every recording goes to the review, even one too short to keep (under
min_message_ms, or nothing): `3` records again, `1` on it says "too short" and asks again, and if the
review goes unanswered it is dropped and the caller told. Once recording has begun, a hang-up at any
moment keeps the message, if it is long enough.
"""

from ivr.flow.access import enter_login
from ivr.flow.actions import (
    Digits,
    DiscardRecording,
    Play,
    PlayAudio,
    Prompt,
    ReportFull,
    SaveMessage,
    Say,
    Sound,
    Transfer,
)
from ivr.flow.common import ALL_KEYS, Step, ask, chose, goodbye, keep_or_drop, record_message, retry
from ivr.flow.events import (
    BoxFound,
    CallerHungUp,
    DigitsEntered,
    Done,
    PlaybackStopped,
    RecordingFinished,
)
from ivr.flow.model import Audio
from ivr.flow.state import CallState, State


def operator_number(ctx: CallState) -> str | None:
    return (ctx.box.operator_number if ctx.box else None) or ctx.call.operator


def greeting(ctx: CallState) -> tuple[Say, ...]:
    """The greeting a caller hears: temporary, else unavailable, else "<the owner's recorded name> is
    unavailable" (as app_voicemail says it), else "the person at extension N is unavailable"."""
    box = ctx.box
    if box.skip_greeting:
        return ()
    chosen = box.temporary_greeting or box.unavailable_greeting
    if chosen is not None:
        return (Sound(chosen),)
    if box.name is not None:
        return Sound(box.name), Prompt("is_unavailable")
    return Prompt("person_at_extension"), Digits(box.mailbox), Prompt("is_unavailable")


def found(ctx: CallState, event: BoxFound) -> Step:
    box = ctx.box = event.box
    if box is None:
        return State.ENDING, Play((Prompt("nobody_available"), Prompt("goodbye")))
    if box.is_owner and (box.check_if_owner or box.announcement_only):
        return enter_login(ctx, box)
    if box.announcement_only:
        return State.ANNOUNCING, Play(greeting(ctx), escape=ctx.settings.keys.login)
    if 0 < box.max_message_count <= box.message_count:
        return State.REPORTING_FULL, ReportFull(box.id)
    items = greeting(ctx) + (
        () if box.skip_instructions else (Prompt("leave_message_instructions"),)
    )
    if not items:
        return record_message(ctx)
    return State.GREETING, Play(items, escape=ALL_KEYS)


def reported_full(ctx: CallState, event: Done) -> Step:
    return State.FULL, Play(
        (*greeting(ctx), Prompt("mailbox_full")), escape=ctx.settings.keys.login
    )


def greeted(ctx: CallState, event: PlaybackStopped) -> Step:
    keys = ctx.settings.keys
    if event.digit == keys.login:
        return enter_login(ctx, ctx.box)
    if event.digit == keys.operator and operator_number(ctx):
        return State.FINISHED, Transfer("operator", operator_number(ctx))
    return record_message(ctx)


def announced(ctx: CallState, event: PlaybackStopped) -> Step:
    if event.digit == ctx.settings.keys.login:
        return enter_login(ctx, ctx.box)
    return goodbye(ctx)


def recorded(ctx: CallState, event: RecordingFinished) -> Step:
    """Whatever was recorded, even nothing or too little, goes to the review (KAZOO): the caller can
    record again."""
    ctx.recording = event.recording
    if event.hung_up:
        return keep_or_drop(ctx)
    chose(ctx)
    return review(ctx)


def too_short(ctx: CallState) -> bool:
    """Nothing recorded, or less than min_message_ms: not a message to keep."""
    recording = ctx.recording
    return recording is None or recording.length_ms < ctx.settings.limits.min_message_ms


def told_too_short(ctx: CallState, event: Done) -> Step:
    ctx.recording = None
    return State.ENDING, Play((Prompt("message_too_short"), Prompt("goodbye")))


def review(ctx: CallState, notice: tuple[Say, ...] = ()) -> Step:
    items = (*notice, Prompt("review_recording")) + (
        (Prompt("review_operator"),) if operator_number(ctx) else ()
    )
    return ask(ctx, State.REVIEWING, items)


def reviewed(ctx: CallState, event: DigitsEntered) -> Step:
    keys = ctx.settings.keys
    choice = event.digits
    if choice == keys.save:
        return save(ctx)
    if choice == keys.listen:
        chose(ctx)
        if ctx.recording is None:
            return review(ctx, (Prompt("message_too_short"),))
        return State.REVIEW_LISTENING, PlayAudio(_as_audio(ctx), 0, ALL_KEYS)
    if choice == keys.record:
        chose(ctx)
        if ctx.recording is None:
            return record_message(ctx)
        return State.RERECORDING, DiscardRecording(ctx.recording)
    if choice == keys.operator and operator_number(ctx):
        return to_operator(ctx)
    return retry(
        ctx, review, notice=None, rounds=ctx.settings.limits.review_rounds, exhausted=unanswered
    )


def save(ctx: CallState) -> Step:
    """Keep the message; one too short to keep is not saved: the caller is told and asked again
    (KAZOO says "saved" and drops it)."""
    if too_short(ctx):
        chose(ctx)
        return review(ctx, (Prompt("message_too_short"),))
    return State.SAVING, SaveMessage(ctx.box.id, ctx.recording)


def to_operator(ctx: CallState) -> Step:
    """Keep the message (dropped if too short to keep), then transfer to the operator."""
    if ctx.recording is None:
        return State.FINISHED, Transfer("operator", operator_number(ctx))
    ctx.then_operator = True
    if too_short(ctx):
        return State.DROPPING_THEN_OPERATOR, DiscardRecording(ctx.recording)
    return State.SAVING_THEN_OPERATOR, SaveMessage(ctx.box.id, ctx.recording)


def unanswered(ctx: CallState) -> Step:
    """No usable answer in the end: the caller meant to leave this message, so keep it rather than
    lose it; one too short to keep is dropped and the caller told."""
    if ctx.recording is None:
        return State.ENDING, Play((Prompt("message_too_short"), Prompt("goodbye")))
    if too_short(ctx):
        return State.TOO_SHORT, DiscardRecording(ctx.recording)
    return State.SAVING, SaveMessage(ctx.box.id, ctx.recording)


def _as_audio(ctx: CallState) -> Audio:
    return Audio(ctx.recording.handle, ctx.recording.length_ms)


def listened(ctx: CallState, event: PlaybackStopped) -> Step:
    return review(ctx)


def discarded_for_rerecord(ctx: CallState, event: Done) -> Step:
    ctx.recording = None
    return record_message(ctx)


def saved(ctx: CallState, event: Done) -> Step:
    ctx.recording = None
    return State.SAVED, Play((Prompt("message_saved"), Prompt("goodbye")))


def transfer_to_operator(ctx: CallState, event: Done) -> Step:
    ctx.recording = None
    return State.FINISHED, Transfer("operator", operator_number(ctx))


TRANSITIONS = {
    (State.FINDING_BOX, BoxFound): found,
    (State.GREETING, PlaybackStopped): greeted,
    (State.ANNOUNCING, PlaybackStopped): announced,
    (State.REPORTING_FULL, Done): reported_full,
    (State.FULL, PlaybackStopped): announced,
    (State.RECORDING, RecordingFinished): recorded,
    (State.TOO_SHORT, Done): told_too_short,
    (State.REVIEWING, DigitsEntered): reviewed,
    (State.RECORDING, CallerHungUp): keep_or_drop,
    (State.REVIEWING, CallerHungUp): keep_or_drop,
    (State.REVIEW_LISTENING, PlaybackStopped): listened,
    (State.REVIEW_LISTENING, CallerHungUp): keep_or_drop,
    (State.RERECORDING, Done): discarded_for_rerecord,
    (State.SAVING, Done): saved,
    (State.SAVING_THEN_OPERATOR, Done): transfer_to_operator,
    (State.DROPPING_THEN_OPERATOR, Done): transfer_to_operator,
}
