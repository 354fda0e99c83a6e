"""User stories of checking messages, driven through the pure flow."""

from ivr.flow.actions import (
    CheckPin,
    CompleteSetup,
    DateTime,
    Digits,
    DiscardRecording,
    End,
    FindBox,
    ForwardMessage,
    HangUp,
    LoadMessages,
    Number,
    PlayAudio,
    Record,
    RemoveGreeting,
    SaveGreeting,
    SetAnnouncementOnly,
    SetFolder,
    SetPin,
    Transfer,
)
from ivr.flow.events import (
    AnnouncementSet,
    BoxFound,
    CallerHungUp,
    DigitsEntered,
    Done,
    Forwarded,
    MessagesLoaded,
    PinChecked,
    PlaybackStopped,
    RecordingFinished,
)
from ivr.flow.model import Keys, Purpose, Settings
from tests.flowkit import RECORDING, Call, box, message, settings

BOX_ID = "b" * 32
KEYS = "0123456789*#"


def check_call(found=None, **kwargs) -> Call:
    """A check-messages call for mailbox 3000, answered and its box found."""
    call = Call(purpose=Purpose.CHECK, **kwargs)
    assert call.reply(Done()) == FindBox("3000")
    call.reply(BoxFound(found or box()))
    return call


def logged_in(found=None, new=(), saved=()) -> Call:
    call = check_call(found or box(is_owner=True))
    assert call.action == LoadMessages(BOX_ID, False)
    call.reply(MessagesLoaded(tuple(new), tuple(saved)))
    return call


def test_a_non_owner_logs_in_with_the_pin():
    call = check_call()
    assert call.said() == ["enter_pin"] and call.action.max_digits == 6
    # KAZOO's timeouts: 5 s for the first key, 2 s between keys.
    assert (call.action.first_timeout_ms, call.action.next_timeout_ms) == (5000, 2000)
    assert call.reply(DigitsEntered("1234")) == CheckPin(BOX_ID, "1234")
    assert call.reply(PinChecked(True)) == LoadMessages(BOX_ID, False)


def test_three_wrong_pins_end_the_call():
    call = check_call()
    for _ in range(2):
        call.reply(DigitsEntered("0000"))
        call.reply(PinChecked(False))
        assert call.said() == ["login_incorrect", "enter_pin"]
    call.reply(DigitsEntered("0000"))
    call.reply(PinChecked(False))
    assert call.said() == ["login_incorrect", "goodbye"]
    assert call.reply(PlaybackStopped()) == HangUp()


def test_mailbox_and_pin_failures_share_one_counter():
    call = Call(purpose=Purpose.CHECK, mailbox=None)
    call.reply(Done())
    assert call.action == FindBox(None)
    call.reply(BoxFound(None))
    assert call.said() == ["enter_mailbox"] and call.action.max_digits == 15
    call.reply(DigitsEntered("9999"))
    call.reply(BoxFound(None))
    assert call.said() == ["login_incorrect", "enter_mailbox"]
    call.reply(DigitsEntered("3000"))
    call.reply(BoxFound(box()))
    call.reply(DigitsEntered("1111"))
    call.reply(PinChecked(False))
    assert call.said() == ["login_incorrect", "enter_pin"]
    call.reply(DigitsEntered("2222"))
    call.reply(PinChecked(False))
    assert call.said() == ["login_incorrect", "goodbye"]


def test_the_callers_own_box_is_found_without_asking():
    call = Call(purpose=Purpose.CHECK, mailbox=None)
    call.reply(Done())
    assert call.reply(BoxFound(box(is_owner=True))) == LoadMessages(BOX_ID, False)


def test_an_empty_mailbox_entry_counts_as_a_failure():
    call = Call(purpose=Purpose.CHECK, mailbox=None)
    call.reply(Done())
    call.reply(BoxFound(None))
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["login_incorrect", "enter_mailbox"]


def test_the_owner_needs_the_pin_when_the_box_requires_it():
    call = check_call(box(is_owner=True, require_pin=True))
    assert call.said() == ["enter_pin"]


def test_force_require_pin_overrides_the_owner_exemption():
    call = Call(purpose=Purpose.CHECK, settings=settings(force_require_pin=True))
    call.reply(Done())
    call.reply(BoxFound(box(is_owner=True)))
    assert call.said() == ["enter_pin"]


def test_a_box_without_a_pin_refuses_others():
    call = check_call(box(has_pin=False))
    assert call.said() == ["no_access", "goodbye"]


def test_first_time_setup_wizard():
    call = check_call(box(is_owner=True, is_setup=False))
    assert call.said() == ["setup_intro"]
    call.reply(PlaybackStopped())
    assert call.said() == ["new_pin"]
    call.reply(DigitsEntered("4321"))
    assert call.said() == ["reenter_pin"]
    assert call.reply(DigitsEntered("4321")) == SetPin(BOX_ID, "4321")
    call.reply(Done())
    assert call.said() == ["pin_changed"]
    call.reply(PlaybackStopped())
    assert call.said() == ["record_unavailable"]
    assert call.reply(PlaybackStopped()) == Record(300, 5)
    call.reply(RecordingFinished(RECORDING))
    assert call.said() == ["review_recording"]
    assert call.reply(DigitsEntered("1")) == SaveGreeting(BOX_ID, "unavailable", RECORDING)
    call.reply(Done())
    assert call.said() == ["greeting_saved"]
    # KAZOO's wizard has no name step: the greeting done, the box is set up.
    assert call.reply(PlaybackStopped()) == CompleteSetup(BOX_ID)
    call.reply(Done())
    assert call.said() == ["setup_complete"]
    assert call.reply(PlaybackStopped()) == LoadMessages(BOX_ID, False)


def test_setup_runs_after_the_pin_for_a_box_not_set_up():
    call = check_call(box(is_setup=False))
    call.reply(DigitsEntered("1234"))
    call.reply(PinChecked(True))
    assert call.said() == ["setup_intro"]


def test_new_pin_mismatch_and_invalid_pin_ask_again_then_give_up():
    call = check_call(box(is_owner=True, is_setup=False))
    call.reply(PlaybackStopped())
    call.reply(DigitsEntered("4321"))
    call.reply(DigitsEntered("9999"))
    assert call.said() == ["pin_mismatch", "new_pin"]
    call.reply(DigitsEntered("12"))
    assert call.said() == ["pin_invalid", "new_pin"]
    call.reply(DigitsEntered("12"))
    assert call.said() == ["goodbye"]


def test_main_menu_says_the_counts():
    call = logged_in(new=[message(1), message(2)], saved=[message(3, "saved")])
    assert call.said() == [
        "you_have",
        Number(2),
        "new",
        "messages",
        "and",
        Number(1),
        "saved",
        "message",
        "main_menu",
    ]


def test_main_menu_with_no_messages():
    call = logged_in()
    assert call.said() == ["you_have", "no", "messages", "main_menu"]


def test_not_configurable_hides_the_options():
    call = logged_in(box(is_owner=True, not_configurable=True))
    assert call.said()[-1] == "main_menu_fixed"
    call.reply(DigitsEntered("5"))
    assert call.said() == ["you_have", "no", "messages", "main_menu_fixed"]


def test_main_menu_asks_four_rounds_with_the_counts_and_no_notice_then_goodbye():
    """KAZOO's main menu: a wrong key or silence says the counts and the menu again, 4 rounds in all."""
    call = logged_in(new=[message(1)])
    menu = ["you_have", Number(1), "new", "message", "main_menu"]
    assert call.said() == menu
    for choice in (DigitsEntered("", timed_out=True), DigitsEntered("9"), DigitsEntered("*")):
        call.reply(choice)
        assert call.said() == menu
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["goodbye"]


def test_a_valid_choice_gives_the_main_menu_its_four_rounds_again():
    call = logged_in(new=[message(1)])
    call.reply(DigitsEntered("9"))
    call.reply(DigitsEntered("9"))
    call.reply(DigitsEntered("5"))
    call.reply(DigitsEntered("0"))  # back from the options: the messages are loaded again
    call.reply(MessagesLoaded((message(1),), ()))
    for _ in range(3):
        call.reply(DigitsEntered("9"))
        assert call.said()[-1] == "main_menu"
    call.reply(DigitsEntered("9"))
    assert call.said() == ["goodbye"]


def test_main_menu_rounds_are_a_setting():
    call = Call(purpose=Purpose.CHECK, settings=settings(main_menu_rounds=2))
    call.reply(Done())
    call.reply(BoxFound(box(is_owner=True)))
    call.reply(MessagesLoaded((), ()))
    call.reply(DigitsEntered("9"))
    assert call.said()[-1] == "main_menu"
    call.reply(DigitsEntered("9"))
    assert call.said() == ["goodbye"]


def test_pound_leaves_the_main_menu():
    call = logged_in()
    call.reply(DigitsEntered(""))
    assert call.said() == ["goodbye"]


def play_first(new, found=None) -> Call:
    call = logged_in(found, new=new)
    call.reply(DigitsEntered("1"))
    return call


def test_a_message_plays_with_its_envelope():
    first = message(1)
    call = play_first([first, message(2)], box(is_owner=True, timezone="Europe/Paris"))
    assert call.said() == ["message_number", Number(1)]
    assert call.reply(PlaybackStopped()) == PlayAudio(first.audio, 0, KEYS)
    call.reply(PlaybackStopped())
    assert call.said() == [
        "received",
        DateTime(first.received, "Europe/Paris"),
        "from",
        Digits("1001"),
    ]
    call.reply(PlaybackStopped())
    assert call.said() == ["message_menu"]


def test_an_unknown_caller_is_said_so():
    call = play_first([message(1, number="")])
    call.reply(PlaybackStopped())
    call.reply(PlaybackStopped())
    assert call.said()[-1] == "unknown_caller"


def test_skip_envelope_still_says_the_message_number_but_not_when_or_from_whom():
    first = message(1)
    call = play_first([first], box(is_owner=True, skip_envelope=True))
    assert call.said() == ["message_number", Number(1)]  # as KAZOO's skip_envelope
    assert call.reply(PlaybackStopped()) == PlayAudio(first.audio, 0, KEYS)
    call.reply(PlaybackStopped())
    assert call.said() == ["message_menu"]


def at_menu(new, found=None) -> Call:
    call = play_first(new, found)
    call.reply(PlaybackStopped())
    call.reply(PlaybackStopped())
    call.reply(PlaybackStopped())
    return call


def test_keep_saves_and_plays_the_next():
    first, second = message(1), message(2)
    call = at_menu([first, second])
    assert call.reply(DigitsEntered("1")) == SetFolder(BOX_ID, first.id, "saved")
    call.reply(Done())
    assert call.said() == ["message_saved"]
    call.reply(PlaybackStopped())
    assert call.said() == ["message_number", Number(2)]


def test_delete_moves_to_deleted():
    first = message(1)
    call = at_menu([first])
    assert call.reply(DigitsEntered("7")) == SetFolder(BOX_ID, first.id, "deleted")
    call.reply(Done())
    assert call.said() == ["message_deleted"]
    call.reply(PlaybackStopped())
    assert call.said() == ["no_more_messages"]
    assert call.reply(PlaybackStopped()) == LoadMessages(BOX_ID, False)


def test_zero_saves_says_so_and_returns_to_the_main_menu():
    first = message(1)
    call = at_menu([first, message(2)])
    assert call.reply(DigitsEntered("0")) == SetFolder(BOX_ID, first.id, "saved")
    call.reply(Done())
    assert call.said() == ["message_saved"]  # KAZOO says "saved" too
    assert call.reply(PlaybackStopped()) == LoadMessages(BOX_ID, False)


def test_previous_at_the_first_replays_it_and_next_moves_on():
    call = at_menu([message(1), message(2)])
    call.reply(DigitsEntered("4"))
    assert call.said() == ["message_number", Number(1)]
    call.reply(PlaybackStopped("6"))
    assert call.said() == ["message_number", Number(2)]
    call.reply(PlaybackStopped("4"))
    assert call.said() == ["message_number", Number(1)]


def test_next_on_the_last_message_replays_it():
    last = message(2)
    call = at_menu([message(1), last])
    call.reply(DigitsEntered("6"))
    assert call.said() == ["message_number", Number(2)]
    call.reply(PlaybackStopped("6"))  # during "message 2"
    assert call.said() == ["message_number", Number(2)]
    assert call.reply(PlaybackStopped()) == PlayAudio(last.audio, 0, KEYS)


def delete_current(call: Call) -> None:
    """7 while "message N" is said: deleted, "deleted", and on to what follows."""
    assert isinstance(call.reply(PlaybackStopped("7")), SetFolder)
    call.reply(Done())
    assert call.said() == ["message_deleted"]
    call.reply(PlaybackStopped())


def test_previous_after_a_delete_skips_the_deleted_message():
    first, second, third = message(1), message(2), message(3)
    call = at_menu([first, second, third])
    call.reply(DigitsEntered("6"))
    delete_current(call)  # message 2
    assert call.said() == ["message_number", Number(3)]
    call.reply(PlaybackStopped("4"))
    assert call.said() == ["message_number", Number(1)]  # not the deleted message 2
    assert call.reply(PlaybackStopped()) == PlayAudio(first.audio, 0, KEYS)


def test_next_skips_a_deleted_message_and_replays_when_only_deleted_ones_follow():
    call = at_menu([message(1), message(2), message(3)])
    call.reply(DigitsEntered("6"))
    call.reply(PlaybackStopped("6"))
    delete_current(call)  # message 3
    assert call.said() == ["no_more_messages"]
    call.reply(PlaybackStopped())
    call.reply(MessagesLoaded((message(1), message(2)), ()))
    call.reply(DigitsEntered("1"))
    delete_current(call)  # a new listing: message 1
    assert call.said() == ["message_number", Number(2)]
    call.reply(PlaybackStopped("4"))  # only a deleted one before it: message 2 again
    assert call.said() == ["message_number", Number(2)]
    call.reply(PlaybackStopped("6"))
    assert call.said() == ["message_number", Number(2)]


def test_going_back_then_on_skips_the_deleted_message():
    first, second, third = message(1), message(2), message(3)
    call = at_menu([first, second, third])
    call.reply(DigitsEntered("6"))
    delete_current(call)  # message 2
    call.reply(PlaybackStopped("4"))
    assert call.said() == ["message_number", Number(1)]
    call.reply(PlaybackStopped("6"))
    assert call.said() == ["message_number", Number(3)]
    call.reply(PlaybackStopped("4"))
    call.reply(PlaybackStopped("1"))  # keep message 1: the next one not deleted is message 3
    call.reply(Done())
    assert call.said() == ["message_saved"]
    call.reply(PlaybackStopped())
    assert call.said() == ["message_number", Number(3)]


def test_replay_plays_the_message_again():
    call = at_menu([message(1)])
    call.reply(DigitsEntered("2"))
    assert call.said() == ["message_number", Number(1)]


def test_a_key_during_the_audio_acts_at_once():
    first = message(1)
    call = play_first([first])
    call.reply(PlaybackStopped())
    assert call.reply(PlaybackStopped("7", offset_ms=1200)) == SetFolder(
        BOX_ID, first.id, "deleted"
    )


def test_callback_transfers_to_the_caller():
    call = at_menu([message(1, number="5551234")])
    assert call.reply(DigitsEntered("9")) == Transfer("callback", "5551234")


def test_callback_without_a_number_says_so_and_plays_the_message_again():
    only = message(1, number="")
    call = at_menu([only])
    call.reply(DigitsEntered("9"))
    assert call.said() == ["callback_no_number", "message_number", Number(1)]
    assert call.reply(PlaybackStopped()) == PlayAudio(only.audio, 0, KEYS)
    call.reply(PlaybackStopped("9", offset_ms=500))  # during the message: the same
    assert call.said() == ["callback_no_number", "message_number", Number(1)]


def test_callback_turned_off_says_it_is_not_available_and_plays_the_message_again():
    call = Call(purpose=Purpose.CHECK, settings=Settings(callback_enabled=False))
    call.reply(Done())
    call.reply(BoxFound(box(is_owner=True)))
    call.reply(MessagesLoaded((message(1, number="5551234"),), ()))
    call.reply(DigitsEntered("1"))
    call.reply(PlaybackStopped())
    call.reply(PlaybackStopped("9", offset_ms=500))
    assert call.said() == ["callback_not_available", "message_number", Number(1)]


def test_pound_in_the_message_menu_returns_to_the_main_menu_unchanged():
    call = at_menu([message(1)])
    assert call.reply(DigitsEntered("")) == LoadMessages(BOX_ID, False)


def test_message_menu_retry_limit():
    call = at_menu([message(1)])
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["invalid_choice", "message_menu"]
    call.reply(DigitsEntered("*"))
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["goodbye"]


FFRW = box(is_owner=True, ff_rw_enabled=True, seek_ms=10_000)


def playing(new, found=FFRW) -> Call:
    call = play_first(new, found)
    call.reply(PlaybackStopped())
    return call


def test_fast_forward_moves_by_seek_duration():
    first = message(1, length_ms=30_000)
    call = playing([first])
    assert call.reply(PlaybackStopped("8", offset_ms=3_000)) == PlayAudio(first.audio, 13_000, KEYS)
    assert call.reply(PlaybackStopped("8", offset_ms=14_000)) == PlayAudio(
        first.audio, 24_000, KEYS
    )


def test_rewind_moves_back_and_clamps_at_the_start():
    first = message(1, length_ms=30_000)
    call = playing([first])
    assert call.reply(PlaybackStopped("5", offset_ms=25_000)) == PlayAudio(
        first.audio, 15_000, KEYS
    )
    assert call.reply(PlaybackStopped("5", offset_ms=4_000)) == PlayAudio(first.audio, 0, KEYS)


def test_fast_forward_past_the_end_goes_to_the_message_menu():
    call = playing([message(1, length_ms=30_000)], FFRW)
    call.reply(PlaybackStopped("8", offset_ms=25_000))
    assert call.said() == ["message_menu_ffrw"]


def test_custom_seek_duration():
    first = message(1, length_ms=30_000)
    call = playing([first], box(is_owner=True, ff_rw_enabled=True, seek_ms=2_500))
    assert call.reply(PlaybackStopped("8", offset_ms=1_000)) == PlayAudio(first.audio, 3_500, KEYS)


def test_without_ff_rw_eight_is_no_menu_choice():
    call = playing([message(1)], box(is_owner=True))
    call.reply(PlaybackStopped("8", offset_ms=1_000))
    assert call.said() == ["invalid_choice", "message_menu"]


def test_forward_copies_to_another_mailbox_and_saves_the_original():
    first = message(1)
    call = at_menu([first])
    call.reply(DigitsEntered("3"))
    assert call.said() == ["enter_forward_mailbox"]
    assert call.reply(DigitsEntered("3001")) == ForwardMessage(BOX_ID, first.id, "3001")
    assert call.reply(Forwarded(True)) == SetFolder(BOX_ID, first.id, "saved")
    call.reply(Done())
    assert call.said() == ["message_forwarded"]


def test_forward_to_an_unknown_or_own_mailbox_asks_again():
    call = at_menu([message(1)])
    call.reply(DigitsEntered("3"))
    call.reply(DigitsEntered("3000"))
    assert call.said() == ["invalid_mailbox", "enter_forward_mailbox"]
    call.reply(DigitsEntered("4000"))
    call.reply(Forwarded(False))
    assert call.said() == ["invalid_mailbox", "enter_forward_mailbox"]
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["message_menu"]


def options(found=None) -> Call:
    call = logged_in(found)
    call.reply(DigitsEntered("5"))
    assert call.said() == ["options_menu"]
    return call


def test_recording_the_unavailable_greeting_from_the_options():
    call = options()
    call.reply(DigitsEntered("1"))
    assert call.said() == ["record_unavailable"]
    call.reply(PlaybackStopped())
    call.reply(RecordingFinished(RECORDING))
    assert call.reply(DigitsEntered("1")) == SaveGreeting(BOX_ID, "unavailable", RECORDING)
    call.reply(Done())
    call.reply(PlaybackStopped())
    assert call.said() == ["options_menu"]


def test_a_greeting_is_discarded_when_the_owner_hangs_up():
    call = options()
    call.reply(DigitsEntered("4"))
    call.reply(PlaybackStopped())
    assert call.reply(RecordingFinished(RECORDING, hung_up=True)) == DiscardRecording(RECORDING)
    assert call.reply(Done()) == End()


def test_a_greeting_left_unreviewed_is_discarded_after_four_silent_rounds():
    call = options()
    call.reply(DigitsEntered("2"))
    call.reply(PlaybackStopped())
    call.reply(RecordingFinished(RECORDING))
    for _ in range(3):
        call.reply(DigitsEntered("", timed_out=True))
        assert call.said() == ["review_recording"]  # KAZOO's review: no notice
    assert call.reply(DigitsEntered("", timed_out=True)) == DiscardRecording(RECORDING)
    call.reply(Done())
    assert call.said() == ["greeting_not_saved"]


def test_the_options_menu_asks_three_silent_rounds_then_goodbye():
    call = options()
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["options_menu"]
    call.reply(DigitsEntered("9"))
    assert call.said() == ["options_menu"]
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["goodbye"]


def test_a_pin_change_given_up_goes_back_to_the_options_menu():
    """KAZOO: three bad new PINs from the options menu return to it (in the wizard: goodbye)."""
    call = options()
    call.reply(DigitsEntered("3"))
    call.reply(DigitsEntered("12"))
    assert call.said() == ["pin_invalid", "new_pin"]
    call.reply(DigitsEntered("4321"))
    call.reply(DigitsEntered("9999"))
    assert call.said() == ["pin_mismatch", "new_pin"]
    call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["options_menu"]
    call.reply(DigitsEntered("9"))  # the options menu has its three rounds again
    call.reply(DigitsEntered("9"))
    assert call.said() == ["options_menu"]


def test_changing_the_pin_from_the_options():
    call = options()
    call.reply(DigitsEntered("3"))
    call.reply(DigitsEntered("555666"))
    assert call.reply(DigitsEntered("555666")) == SetPin(BOX_ID, "555666")
    call.reply(Done())
    call.reply(PlaybackStopped())
    assert call.said() == ["options_menu"]


def test_deleting_the_temporary_greeting():
    call = options()
    assert call.reply(DigitsEntered("5")) == RemoveGreeting(BOX_ID, "temporary")
    call.reply(Done())
    assert call.said() == ["temporary_removed"]


def test_zero_and_pound_leave_the_options():
    call = options()
    assert call.reply(DigitsEntered("0")) == LoadMessages(BOX_ID, False)
    call = options()
    assert call.reply(DigitsEntered("")) == LoadMessages(BOX_ID, False)


def test_six_makes_the_box_announcement_only_and_back_saying_saved_and_the_menu_each_time():
    """KAZOO's toggle_announcement_mode: "saved", then the menu, which says which way the box is."""
    call = options()
    assert call.reply(DigitsEntered("6")) == SetAnnouncementOnly(BOX_ID, True)
    call.reply(AnnouncementSet(True))
    assert call.said() == ["saved"]
    call.reply(PlaybackStopped())
    assert call.said() == ["options_menu_announcement_on"]
    assert call.reply(DigitsEntered("6")) == SetAnnouncementOnly(BOX_ID, False)
    call.reply(AnnouncementSet(True))
    assert call.said() == ["saved"]
    call.reply(PlaybackStopped())
    assert call.said() == ["options_menu"]


def test_a_toggle_the_store_refuses_asks_the_menu_again_with_the_box_unchanged():
    call = options()
    call.reply(DigitsEntered("6"))
    call.reply(AnnouncementSet(False))
    assert call.said() == ["options_menu"]  # no "saved"
    assert call.reply(DigitsEntered("6")) == SetAnnouncementOnly(BOX_ID, True)


def test_after_a_toggle_the_options_menu_has_its_three_rounds_again():
    call = options()
    call.reply(DigitsEntered("9"))
    call.reply(DigitsEntered("9"))
    call.reply(DigitsEntered("6"))
    call.reply(AnnouncementSet(True))
    call.reply(PlaybackStopped())
    call.reply(DigitsEntered("9"))
    call.reply(DigitsEntered("9"))
    assert call.said() == ["options_menu_announcement_on"]


def test_the_announcement_key_is_a_setting():
    call = check_call(
        box(is_owner=True), settings=Settings(keys=Keys(toggle_announcement_mode="8"))
    )
    call.reply(MessagesLoaded((), ()))
    call.reply(DigitsEntered("5"))
    call.reply(DigitsEntered("6"))
    assert call.said() == ["options_menu"]  # a wrong key now
    assert call.reply(DigitsEntered("8")) == SetAnnouncementOnly(BOX_ID, True)


def test_an_announcement_only_box_opens_the_options_after_the_login():
    """KAZOO's check_mailbox_menu: the owner's phone, or the PIN; the main menu is one key away."""
    owner = check_call(box(is_owner=True, announcement_only=True))
    assert owner.said() == ["options_menu_announcement_on"]
    assert owner.reply(DigitsEntered("0")) == LoadMessages(BOX_ID, False)
    call = check_call(box(announcement_only=True))
    call.reply(DigitsEntered("1234"))
    call.reply(PinChecked(True))
    assert call.said() == ["options_menu_announcement_on"]


def test_a_not_configurable_announcement_only_box_opens_the_main_menu():
    call = check_call(box(is_owner=True, announcement_only=True, not_configurable=True))
    assert call.action == LoadMessages(BOX_ID, False)


def test_the_setup_wizard_of_an_announcement_only_box_comes_first():
    call = check_call(box(announcement_only=True, is_setup=False))
    call.reply(DigitsEntered("1234"))
    call.reply(PinChecked(True))
    assert call.said() == ["setup_intro"]


def test_hanging_up_anywhere_in_the_mailbox_just_ends():
    call = at_menu([message(1)])
    assert call.reply(CallerHungUp()) == End()
    assert call.flow.finished


def test_login_without_a_mailbox_asks_for_it_straight_away():
    call = Call(purpose=Purpose.CHECK, mailbox=None, find_own_box=False)
    call.reply(Done())
    assert call.said() == ["enter_mailbox"]


def test_every_menu_ends_when_the_caller_stays_silent():
    """A caller who never presses anything is always said goodbye to: no menu loops for ever."""
    from ivr.flow.actions import Collect, Play, PlayAudio, Record

    def silent_until_the_end(call: Call, limit: int = 200) -> int:
        for steps in range(limit):
            action = call.action
            if call.flow.finished:
                return steps
            if isinstance(action, Collect):
                call.reply(DigitsEntered("", timed_out=True))
            elif isinstance(action, (Play, PlayAudio)):
                call.reply(PlaybackStopped())
            elif isinstance(action, Record):
                call.reply(RecordingFinished(None))
            else:
                call.reply(Done())
        raise AssertionError(f"still going after {limit} actions, in {call.flow.state}")

    for keys in ([], ["5"], ["5", "1"], ["5", "3"], ["1"], ["1", "3"]):
        call = logged_in(new=[message(1)])
        for key in keys:
            call.reply(DigitsEntered(key))
        assert silent_until_the_end(call) < 60, keys
