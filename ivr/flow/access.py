"""Logging in to a box: the mailbox number (when not known), the PIN, owners and the setup wizard.

Rules: mailbox and PIN failures share one counter (max_login_attempts per call); an owner calling
from their own phone needs no PIN unless require_pin (or force_require_pin); an owner whose box is not
set up goes through the setup wizard first; a box without a PIN refuses everyone but its owner. Who
is the owner is decided by the services from the calling channel and number, never from anything the
caller could dial or forward. Logged in, an announcement-only box its owner may configure opens the
options menu, where announcement only is turned off (KAZOO's check_mailbox_menu); any other box, the
main menu.
"""

from dataclasses import replace

from ivr.flow.actions import CheckPin, FindBox, Play, Prompt
from ivr.flow.common import Step, ask, enter_main_menu, enter_options
from ivr.flow.events import BoxFound, DigitsEntered, PinChecked, PlaybackStopped
from ivr.flow.model import Box
from ivr.flow.personal import ask_new_pin
from ivr.flow.state import CallState, State


def enter_login(ctx: CallState, box: Box | None) -> Step:
    """Start checking messages: with a known box, authenticate; else look for the caller's own box."""
    ctx.box = box
    if box is None:
        return State.FINDING_OWN_BOX, FindBox(None)
    return authenticate(ctx)


def authenticate(ctx: CallState) -> Step:
    box, limits = ctx.box, ctx.settings.limits
    if box.is_owner and not box.is_setup:
        return start_setup(ctx)
    if box.is_owner and not (box.require_pin or limits.force_require_pin):
        return logged_in(ctx)
    if not box.has_pin:
        return State.ENDING, Play((Prompt("no_access"), Prompt("goodbye")))
    return ask_pin(ctx)


def logged_in(ctx: CallState) -> Step:
    """The menu a login opens: the options for a configurable announcement-only box, else the main."""
    box = ctx.box
    if box.announcement_only and not box.not_configurable:
        return enter_options(ctx)
    return enter_main_menu(ctx)


def ask_mailbox(ctx: CallState) -> Step:
    return ask(
        ctx,
        State.ASKING_MAILBOX,
        (Prompt("enter_mailbox"),),
        ctx.settings.limits.max_mailbox_digits,
    )


def ask_pin(ctx: CallState) -> Step:
    return ask(ctx, State.ASKING_PIN, (Prompt("enter_pin"),), ctx.settings.limits.max_pin_digits)


def failed(ctx: CallState, again) -> Step:
    """A wrong mailbox or PIN: say so and ask again, or say goodbye once the attempts are used up."""
    ctx.login_failures += 1
    if ctx.login_failures >= ctx.settings.limits.max_login_attempts:
        return State.ENDING, Play((Prompt("login_incorrect"), Prompt("goodbye")))
    state, action = again(ctx)
    return state, replace(action, items=(Prompt("login_incorrect"), *action.items))


def own_box_found(ctx: CallState, event: BoxFound) -> Step:
    if event.box is None:
        return ask_mailbox(ctx)
    ctx.box = event.box
    return authenticate(ctx)


def callback_box_found(ctx: CallState, event: BoxFound) -> Step:
    """A callback call went to the number the box's owner set for it: the callee is the owner."""
    if event.box is None:
        return State.ENDING, Play((Prompt("goodbye"),))
    ctx.box = replace(event.box, is_owner=True)
    return authenticate(ctx)


def mailbox_entered(ctx: CallState, event: DigitsEntered) -> Step:
    if not event.digits:
        return failed(ctx, ask_mailbox)
    return State.FINDING_BOX_TO_CHECK, FindBox(event.digits)


def box_to_check_found(ctx: CallState, event: BoxFound) -> Step:
    if event.box is None:
        return failed(ctx, ask_mailbox)
    ctx.box = event.box
    return authenticate(ctx)


def pin_entered(ctx: CallState, event: DigitsEntered) -> Step:
    if not event.digits:
        return failed(ctx, ask_pin)
    return State.CHECKING_PIN, CheckPin(ctx.box.id, event.digits)


def pin_checked(ctx: CallState, event: PinChecked) -> Step:
    if not event.ok:
        return failed(ctx, ask_pin)
    ctx.login_failures = 0
    if not ctx.box.is_setup:
        return start_setup(ctx)
    return logged_in(ctx)


def start_setup(ctx: CallState) -> Step:
    ctx.in_setup = True
    return State.SETUP_INTRO, Play((Prompt("setup_intro"),))


def setup_introduced(ctx: CallState, event: PlaybackStopped) -> Step:
    return ask_new_pin(ctx)


TRANSITIONS = {
    (State.FINDING_OWN_BOX, BoxFound): own_box_found,
    (State.FINDING_CALLBACK_BOX, BoxFound): callback_box_found,
    (State.ASKING_MAILBOX, DigitsEntered): mailbox_entered,
    (State.FINDING_BOX_TO_CHECK, BoxFound): box_to_check_found,
    (State.ASKING_PIN, DigitsEntered): pin_entered,
    (State.CHECKING_PIN, PinChecked): pin_checked,
    (State.SETUP_INTRO, PlaybackStopped): setup_introduced,
}
