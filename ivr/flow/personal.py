"""The owner's own settings by phone: a new PIN (twice), and greetings and name (record, review, keep).

Both serve the first-time setup wizard (PIN, unavailable greeting, then set up: KAZOO's steps, no
name) and the configuration menu (back to the menu after each, a PIN given up included). A greeting is
kept only when the owner accepts it: a hang-up or a review left unanswered discards it, so a stray
recording never replaces a greeting.
"""

from ivr.flow.actions import (
    CompleteSetup,
    DiscardRecording,
    End,
    Play,
    Prompt,
    Record,
    SaveGreeting,
    SetPin,
)
from ivr.flow.common import Step, ask, chose, enter_main_menu, enter_options, retry, review_choice
from ivr.flow.events import CallerHungUp, DigitsEntered, Done, PlaybackStopped, RecordingFinished
from ivr.flow.state import CallState, State

GREETING_KINDS = ("unavailable", "name", "temporary")


def ask_new_pin(ctx: CallState) -> Step:
    return ask(ctx, State.NEW_PIN, (Prompt("new_pin"),), ctx.settings.limits.max_pin_digits)


def _abandon_pin(ctx: CallState) -> Step:
    """No valid new PIN after the last try: the wizard says goodbye, the options menu comes back (KAZOO)."""
    ctx.new_pin = ""
    if not ctx.in_setup:
        return enter_options(ctx)
    return State.ENDING, Play((Prompt("goodbye"),))


def new_pin_entered(ctx: CallState, event: DigitsEntered) -> Step:
    limits = ctx.settings.limits
    pin = event.digits
    if not (pin.isdigit() and limits.min_pin_digits <= len(pin) <= limits.max_pin_digits):
        return retry(ctx, ask_new_pin, notice="pin_invalid", exhausted=_abandon_pin)
    ctx.new_pin = pin
    return ask(ctx, State.CONFIRMING_PIN, (Prompt("reenter_pin"),), limits.max_pin_digits)


def pin_confirmed(ctx: CallState, event: DigitsEntered) -> Step:
    if event.digits != ctx.new_pin:
        return retry(ctx, ask_new_pin, notice="pin_mismatch", exhausted=_abandon_pin)
    return State.SETTING_PIN, SetPin(ctx.box.id, ctx.new_pin)


def pin_set(ctx: CallState, event: Done) -> Step:
    ctx.new_pin = ""
    chose(ctx)
    return State.PIN_SET, Play((Prompt("pin_changed"),))


def after_pin_set(ctx: CallState, event: PlaybackStopped) -> Step:
    return start_greeting(ctx, "unavailable") if ctx.in_setup else enter_options(ctx)


def start_greeting(ctx: CallState, kind: str) -> Step:
    ctx.greeting_kind = kind
    chose(ctx)
    return State.GREETING_INSTRUCTIONS, Play((Prompt(f"record_{kind}"),))


def instructions_done(ctx: CallState, event: PlaybackStopped) -> Step:
    limits = ctx.settings.limits
    return State.RECORDING_GREETING, Record(limits.max_greeting_s, limits.silence_s)


def greeting_recorded(ctx: CallState, event: RecordingFinished) -> Step:
    ctx.recording = event.recording
    if event.hung_up:
        return drop(ctx)
    if event.recording is None or event.recording.length_ms < ctx.settings.limits.min_message_ms:
        if event.recording is None:
            return not_saved(ctx)
        return State.DROPPING_GREETING, DiscardRecording(event.recording)
    return review(ctx)


def review(ctx: CallState) -> Step:
    return ask(ctx, State.GREETING_REVIEW, (Prompt("review_recording"),))


def reviewed(ctx: CallState, event: DigitsEntered) -> Step:
    return review_choice(
        ctx,
        event,
        keep=lambda ctx: (
            State.SAVING_GREETING,
            SaveGreeting(ctx.box.id, ctx.greeting_kind, ctx.recording),
        ),
        again=review,
        states=(State.GREETING_LISTENING, State.REDOING_GREETING, State.DROPPING_GREETING),
    )


def listened(ctx: CallState, event: PlaybackStopped) -> Step:
    return review(ctx)


def redo(ctx: CallState, event: Done) -> Step:
    ctx.recording = None
    return start_greeting(ctx, ctx.greeting_kind)


def drop(ctx: CallState, event: CallerHungUp | None = None) -> Step:
    """The caller hung up with a greeting unaccepted: discard it and end."""
    ctx.hung_up = True
    if ctx.recording is None:
        return State.FINISHED, End()
    return State.DROPPING, DiscardRecording(ctx.recording)


def greeting_saved(ctx: CallState, event: Done) -> Step:
    ctx.recording = None
    return State.GREETING_SAVED, Play((Prompt("greeting_saved"),))


def not_saved(ctx: CallState, event: Done | None = None) -> Step:
    ctx.recording = None
    return State.GREETING_SAVED, Play((Prompt("greeting_not_saved"),))


def after_greeting(ctx: CallState, event: PlaybackStopped) -> Step:
    ctx.greeting_kind = ""
    if not ctx.in_setup:
        return enter_options(ctx)
    return State.COMPLETING_SETUP, CompleteSetup(ctx.box.id)


def setup_completed(ctx: CallState, event: Done) -> Step:
    ctx.in_setup = False
    return State.SETUP_DONE, Play((Prompt("setup_complete"),))


def after_setup(ctx: CallState, event: PlaybackStopped) -> Step:
    return enter_main_menu(ctx)


TRANSITIONS = {
    (State.NEW_PIN, DigitsEntered): new_pin_entered,
    (State.CONFIRMING_PIN, DigitsEntered): pin_confirmed,
    (State.SETTING_PIN, Done): pin_set,
    (State.PIN_SET, PlaybackStopped): after_pin_set,
    (State.GREETING_INSTRUCTIONS, PlaybackStopped): instructions_done,
    (State.RECORDING_GREETING, RecordingFinished): greeting_recorded,
    (State.RECORDING_GREETING, CallerHungUp): drop,
    (State.GREETING_REVIEW, DigitsEntered): reviewed,
    (State.GREETING_REVIEW, CallerHungUp): drop,
    (State.GREETING_LISTENING, PlaybackStopped): listened,
    (State.GREETING_LISTENING, CallerHungUp): drop,
    (State.REDOING_GREETING, Done): redo,
    (State.SAVING_GREETING, Done): greeting_saved,
    (State.DROPPING_GREETING, Done): not_saved,
    (State.GREETING_SAVED, PlaybackStopped): after_greeting,
    (State.COMPLETING_SETUP, Done): setup_completed,
    (State.SETUP_DONE, PlaybackStopped): after_setup,
}
