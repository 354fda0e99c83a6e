"""The configuration menu: greetings, name, PIN, temporary greeting; `0` or `#` back to the main menu.

Rules: a wrong key or none in time asks the menu again without a notice; after options_rounds rounds
(KAZOO's 3) without a choice, goodbye. A greeting recorded, or a PIN changed or given up, comes back
here.
"""

from ivr.flow.actions import Play, Prompt, RemoveGreeting
from ivr.flow.common import Step, chose, enter_main_menu, enter_options, options_menu, retry
from ivr.flow.events import DigitsEntered, Done, PlaybackStopped
from ivr.flow.mailbox import choice
from ivr.flow.personal import ask_new_pin, start_greeting
from ivr.flow.state import CallState, State


def options_choice(ctx: CallState, event: DigitsEntered) -> Step:
    keys, key = ctx.settings.keys, choice(event)
    greetings = {
        keys.record_unavailable: "unavailable",
        keys.record_name: "name",
        keys.record_temporary: "temporary",
    }
    if key in greetings:
        return start_greeting(ctx, greetings[key])
    if key == keys.set_pin:
        chose(ctx)
        return ask_new_pin(ctx)
    if key == keys.delete_temporary:
        return State.REMOVING_TEMPORARY, RemoveGreeting(ctx.box.id, "temporary")
    if key in (keys.return_main_menu, keys.exit):
        return enter_main_menu(ctx)
    return retry(ctx, options_menu, notice=None, rounds=ctx.settings.limits.options_rounds)


def temporary_removed(ctx: CallState, event: Done) -> Step:
    return State.TEMPORARY_REMOVED, Play((Prompt("temporary_removed"),))


def after_removal(ctx: CallState, event: PlaybackStopped) -> Step:
    return enter_options(ctx)


TRANSITIONS = {
    (State.OPTIONS_MENU, DigitsEntered): options_choice,
    (State.REMOVING_TEMPORARY, Done): temporary_removed,
    (State.TEMPORARY_REMOVED, PlaybackStopped): after_removal,
}
