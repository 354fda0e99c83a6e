"""The configuration menu: greetings, name, PIN, temporary greeting, announcement only; `0` or `#`
back to the main menu.

Rules: a wrong key or none in time asks the menu again without a notice; after options_rounds rounds
(KAZOO's 3) without a choice, goodbye. A greeting recorded, or a PIN changed or given up, comes back
here. The announcement key turns the box's announcement_only over (KAZOO's toggle_announcement_mode):
"saved" and the menu, which then says which way the box is; a change the store refuses leaves the box
as it was and only asks the menu again.
"""

from dataclasses import replace

from ivr.flow.actions import Play, Prompt, RemoveGreeting, SetAnnouncementOnly
from ivr.flow.common import Step, chose, enter_main_menu, enter_options, options_menu, retry
from ivr.flow.events import AnnouncementSet, DigitsEntered, Done, PlaybackStopped
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
    if key == keys.toggle_announcement_mode:
        on = not ctx.box.announcement_only
        return State.SETTING_ANNOUNCEMENT, SetAnnouncementOnly(ctx.box.id, on)
    if key in (keys.return_main_menu, keys.exit):
        return enter_main_menu(ctx)
    return retry(ctx, options_menu, notice=None, rounds=ctx.settings.limits.options_rounds)


def temporary_removed(ctx: CallState, event: Done) -> Step:
    return State.TEMPORARY_REMOVED, Play((Prompt("temporary_removed"),))


def back_to_options(ctx: CallState, event: PlaybackStopped) -> Step:
    return enter_options(ctx)


def announcement_set(ctx: CallState, event: AnnouncementSet) -> Step:
    """The box is now the other way ("saved"), or, refused, as it was (the menu again, KAZOO's)."""
    if not event.ok:
        return enter_options(ctx)
    ctx.box = replace(ctx.box, announcement_only=not ctx.box.announcement_only)
    return State.ANNOUNCEMENT_SET, Play((Prompt("saved"),))


TRANSITIONS = {
    (State.OPTIONS_MENU, DigitsEntered): options_choice,
    (State.REMOVING_TEMPORARY, Done): temporary_removed,
    (State.TEMPORARY_REMOVED, PlaybackStopped): back_to_options,
    (State.SETTING_ANNOUNCEMENT, AnnouncementSet): announcement_set,
    (State.ANNOUNCEMENT_SET, PlaybackStopped): back_to_options,
}
