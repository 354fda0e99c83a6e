"""The mailbox: counts and main menu, playing messages with their envelope, the message menu,
and fast-forward / rewind (forwarding itself is in forwarding.py).

Rules:
- The main menu says the counts every round and asks again without a notice, main_menu_rounds (KAZOO's
  4) rounds in all.
- New and saved messages are played in the order the services give (newest first unless
  oldest_message_first), each after "message N" (its place in the list), and unless skip_envelope
  followed by when it came and from whom.
- Listening never changes a folder; only the keep, delete, forward and return keys do.
- Previous and next skip the messages deleted in this call; where there is none they replay the
  current message (KAZOO).
- With ff/rw enabled, the fast-forward and rewind keys move the playback by seek_ms, clamped at the
  start; past the end they go to the message menu.
- The callback key leaves for the dialplan to call the sender; with call-backs off, or no number
  (none, or `anonymous`), the caller is told and the message plays again (KAZOO).
- `#` leaves a menu.
"""

from ivr.flow.actions import (
    DateTime,
    Digits,
    Number,
    Play,
    PlayAudio,
    Prompt,
    Say,
    SetFolder,
    Transfer,
)
from ivr.flow.common import (
    ALL_KEYS,
    Step,
    ask,
    chose,
    enter_main_menu,
    enter_options,
    goodbye,
    retry,
)
from ivr.flow.events import DigitsEntered, Done, MessagesLoaded, PlaybackStopped
from ivr.flow.state import CallState, State


def choice(event: DigitsEntered) -> str:
    """The key chosen: the digit, `#` when the caller pressed just that, "" when nothing came."""
    if event.digits:
        return event.digits
    return "" if event.timed_out else "#"


def _count(number: int, folder: str) -> tuple:
    return Number(number), Prompt(folder), Prompt("message" if number == 1 else "messages")


def counts(ctx: CallState) -> tuple:
    """ "You have N new and M saved messages" (or "no messages")."""
    new, saved = len(ctx.new), len(ctx.saved)
    if not new and not saved:
        return Prompt("you_have"), Prompt("no"), Prompt("messages")
    parts = (Prompt("you_have"),)
    if new:
        parts += _count(new, "new")
    if new and saved:
        parts += (Prompt("and"),)
    if saved:
        parts += _count(saved, "saved")
    return parts


def main_menu(ctx: CallState) -> Step:
    """The counts, then the menu: every round says both, as KAZOO's does."""
    menu = Prompt("main_menu_fixed" if ctx.box.not_configurable else "main_menu")
    return ask(ctx, State.MAIN_MENU, (*counts(ctx), menu))


def loaded(ctx: CallState, event: MessagesLoaded) -> Step:
    ctx.new, ctx.saved = event.new, event.saved
    chose(ctx)
    return main_menu(ctx)


def main_menu_choice(ctx: CallState, event: DigitsEntered) -> Step:
    keys, key = ctx.settings.keys, choice(event)
    if key in (keys.hear_new, keys.hear_saved):
        playlist = ctx.new if key == keys.hear_new else ctx.saved
        if not playlist:
            folder = "new" if key == keys.hear_new else "saved"
            return State.NO_MORE, Play((Prompt("no"), Prompt(folder), Prompt("messages")))
        chose(ctx)
        ctx.playlist, ctx.index, ctx.deleted = playlist, 0, set()
        return play_message(ctx)
    if key == keys.configure and not ctx.box.not_configurable:
        return enter_options(ctx)
    if key == keys.exit:
        return goodbye(ctx)
    return retry(ctx, main_menu, notice=None, rounds=ctx.settings.limits.main_menu_rounds)


def escape(ctx: CallState) -> str:
    return ALL_KEYS


def play_message(ctx: CallState, notice: tuple[Say, ...] = ()) -> Step:
    """ "Message N", then its audio (skip_envelope leaves out only what follows the audio, as KAZOO)."""
    return State.ENVELOPE, Play(
        (*notice, Prompt("message_number"), Number(ctx.index + 1)), escape=escape(ctx)
    )


def play_audio(ctx: CallState, offset_ms: int) -> Step:
    return State.PLAYING, PlayAudio(ctx.message.audio, offset_ms, escape(ctx))


def envelope_played(ctx: CallState, event: PlaybackStopped) -> Step:
    if event.digit:
        return menu_key(ctx, event.digit)
    return play_audio(ctx, 0)


def audio_stopped(ctx: CallState, event: PlaybackStopped) -> Step:
    keys, box = ctx.settings.keys, ctx.box
    if event.digit is None:
        return after_audio(ctx)
    if box.ff_rw_enabled and event.digit in (keys.fastforward, keys.rewind):
        step = box.seek_ms if event.digit == keys.fastforward else -box.seek_ms
        offset = max(0, event.offset_ms + step)
        if offset >= ctx.message.audio.length_ms:
            return message_menu(ctx)
        return play_audio(ctx, offset)
    return menu_key(ctx, event.digit)


def after_audio(ctx: CallState) -> Step:
    if ctx.box.skip_envelope:
        return message_menu(ctx)
    message = ctx.message
    sender = (
        (Prompt("from"), Digits(message.caller_number))
        if message.caller_number
        else (Prompt("unknown_caller"),)
    )
    items = (Prompt("received"), DateTime(message.received, ctx.box.timezone), *sender)
    return State.AFTER_ENVELOPE, Play(items, escape=escape(ctx))


def after_envelope(ctx: CallState, event: PlaybackStopped) -> Step:
    if event.digit:
        return menu_key(ctx, event.digit)
    return message_menu(ctx)


def message_menu(ctx: CallState) -> Step:
    return ask(
        ctx,
        State.MESSAGE_MENU,
        (Prompt("message_menu_ffrw" if ctx.box.ff_rw_enabled else "message_menu"),),
    )


def message_menu_choice(ctx: CallState, event: DigitsEntered) -> Step:
    key = choice(event)
    if not key:
        return retry(ctx, message_menu)
    return menu_key(ctx, key)


def file_as(ctx: CallState, folder: str, why: str) -> Step:
    ctx.filed_as = why
    return State.FILING, SetFolder(ctx.box.id, ctx.message.id, folder)


def menu_key(ctx: CallState, key: str) -> Step:
    """A key pressed during or after a message."""
    keys, box = ctx.settings.keys, ctx.box
    if key == keys.keep:
        return file_as(ctx, "saved", "kept")
    if key == keys.delete:
        return file_as(ctx, "deleted", "deleted")
    if key == keys.return_main:
        return file_as(ctx, "saved", "returned")
    if key == keys.replay:
        chose(ctx)
        return play_message(ctx)
    if key == keys.prev:
        chose(ctx)
        ctx.index = _neighbour(ctx, -1)
        return play_message(ctx)
    if key == keys.next:
        chose(ctx)
        ctx.index = _neighbour(ctx, +1)
        return play_message(ctx)
    if key == keys.forward:
        chose(ctx)
        return ask_forward(ctx)
    if key == keys.callback:
        return call_back(ctx)
    if key == keys.exit:
        return enter_main_menu(ctx)
    if key == keys.rewind and box.ff_rw_enabled:
        return play_audio(ctx, max(0, ctx.message.audio.length_ms - box.seek_ms))
    return retry(ctx, message_menu)


def call_back(ctx: CallState) -> Step:
    """Leave for the dialplan to call the sender; with call-backs off, or no number to call, say it
    cannot be done and play the message again (KAZOO)."""
    chose(ctx)
    number = ctx.message.caller_number
    if not ctx.settings.callback_enabled:
        return play_message(ctx, (Prompt("callback_not_available"),))
    if not number:
        return play_message(ctx, (Prompt("callback_no_number"),))
    return State.FINISHED, Transfer("callback", number)


def _neighbour(ctx: CallState, step: int) -> int:
    """The index of the nearest message before (-1) or after (+1) the current one that was not deleted
    in this call; the current one's when there is none (KAZOO replays it)."""
    index = ctx.index + step
    while 0 <= index < len(ctx.playlist):
        if ctx.playlist[index].id not in ctx.deleted:
            return index
        index += step
    return ctx.index


def filed(ctx: CallState, event: Done) -> Step:
    why = ctx.filed_as
    if why == "returned":
        return State.RETURNING, Play((Prompt("message_saved"),))
    if why == "deleted":
        ctx.deleted.add(ctx.message.id)
    notice = {
        "kept": "message_saved",
        "deleted": "message_deleted",
        "forwarded": "message_forwarded",
    }[why]
    return State.FILED, Play((Prompt(notice),), escape=escape(ctx))


def after_filed(ctx: CallState, event: PlaybackStopped) -> Step:
    return next_message(ctx)


def next_message(ctx: CallState) -> Step:
    """After filing a message: the next one not deleted, or "no more messages" and the main menu."""
    chose(ctx)
    following = _neighbour(ctx, +1)
    if following == ctx.index:
        return State.NO_MORE, Play((Prompt("no_more_messages"),))
    ctx.index = following
    return play_message(ctx)


def to_main_menu(ctx: CallState, event: PlaybackStopped) -> Step:
    return enter_main_menu(ctx)


def ask_forward(ctx: CallState) -> Step:
    return ask(
        ctx,
        State.ASKING_FORWARD,
        (Prompt("enter_forward_mailbox"),),
        ctx.settings.limits.max_mailbox_digits,
    )


TRANSITIONS = {
    (State.LOADING, MessagesLoaded): loaded,
    (State.MAIN_MENU, DigitsEntered): main_menu_choice,
    (State.ENVELOPE, PlaybackStopped): envelope_played,
    (State.PLAYING, PlaybackStopped): audio_stopped,
    (State.AFTER_ENVELOPE, PlaybackStopped): after_envelope,
    (State.MESSAGE_MENU, DigitsEntered): message_menu_choice,
    (State.FILING, Done): filed,
    (State.FILED, PlaybackStopped): after_filed,
    (State.NO_MORE, PlaybackStopped): to_main_menu,
    (State.RETURNING, PlaybackStopped): to_main_menu,
}
