"""User stories of leaving a message, driven through the pure flow."""

from ivr.flow.actions import (
    Answer,
    CheckPin,
    Collect,
    Digits,
    DiscardRecording,
    End,
    FindBox,
    HangUp,
    LoadMessages,
    Play,
    PlayAudio,
    Record,
    ReportFull,
    SaveMessage,
    Sound,
    Transfer,
)
from ivr.flow.events import (
    BoxFound,
    CallerHungUp,
    DigitsEntered,
    Done,
    PlaybackStopped,
    RecordingFinished,
)
from ivr.flow.model import Audio, Purpose
from tests.flowkit import GREETING, RECORDING, SHORT, TEMPORARY, Call, box, settings


def reach_greeting(call: Call, found) -> None:
    assert call.action == Answer()
    assert call.reply(Done()) == FindBox("3000")
    call.reply(BoxFound(found))


def reach_review(call: Call, found=None) -> None:
    reach_greeting(call, found or box())
    call.reply(PlaybackStopped())
    assert isinstance(call.action, Record)
    call.reply(RecordingFinished(RECORDING))
    assert isinstance(call.action, Collect) and call.said()[0] == "review_recording"


def test_unknown_box_says_nobody_is_available_and_hangs_up():
    call = Call()
    reach_greeting(call, None)
    assert call.said() == ["nobody_available", "goodbye"]
    assert call.reply(PlaybackStopped()) == HangUp()
    assert call.flow.finished


def test_a_message_is_recorded_reviewed_and_saved():
    call = Call(caller_number="1001")
    reach_greeting(call, box())
    assert call.said() == [
        "person_at_extension",
        Digits("3000"),
        "is_unavailable",
        "leave_message_instructions",
    ]
    assert call.action.escape == "0123456789*#"
    record = call.reply(PlaybackStopped())
    assert record == Record(max_s=500, silence_s=5, message_for="b" * 32)
    call.reply(RecordingFinished(RECORDING))
    assert call.said() == ["review_recording"]
    assert call.reply(DigitsEntered("1")) == SaveMessage("b" * 32, RECORDING)
    call.reply(Done())
    assert call.said() == ["message_saved", "goodbye"]
    assert call.reply(PlaybackStopped()) == HangUp()


def recording_after_the_greeting(call: Call, found) -> Record:
    reach_greeting(call, found)
    return call.reply(PlaybackStopped())


def test_the_longest_message_comes_from_the_dialplan_then_the_box_then_the_limits():
    """KAZOO's order: the callflow's max_message_length, the box's, the system's."""
    limits_only = recording_after_the_greeting(Call(settings=settings(max_message_s=120)), box())
    assert limits_only == Record(max_s=120, silence_s=5, message_for="b" * 32)
    the_box = recording_after_the_greeting(
        Call(settings=settings(max_message_s=120)), box(max_message_s=30)
    )
    assert the_box.max_s == 30
    assert recording_after_the_greeting(Call(max_message_s=10), box(max_message_s=30)).max_s == 10
    assert recording_after_the_greeting(Call(max_message_s=10), box()).max_s == 10


def test_recording_again_keeps_the_same_limit():
    call = Call(max_message_s=10)
    reach_review(call)
    call.reply(DigitsEntered("3"))
    assert call.reply(Done()).max_s == 10


def test_the_unavailable_greeting_is_played_when_set():
    call = Call()
    reach_greeting(call, box(unavailable_greeting=GREETING))
    assert call.said() == [Sound(GREETING), "leave_message_instructions"]


def test_a_temporary_greeting_wins_over_the_unavailable_one():
    call = Call()
    reach_greeting(call, box(unavailable_greeting=GREETING, temporary_greeting=TEMPORARY))
    assert call.said()[0] == Sound(TEMPORARY)


def test_without_a_greeting_the_owner_s_recorded_name_says_who_is_unavailable():
    call = Call()
    reach_greeting(call, box(name=GREETING))
    assert call.said() == [Sound(GREETING), "is_unavailable", "leave_message_instructions"]
    call = Call()
    reach_greeting(call, box(name=GREETING, unavailable_greeting=TEMPORARY))
    assert call.said() == [Sound(TEMPORARY), "leave_message_instructions"]


def test_skip_greeting_and_skip_instructions():
    call = Call()
    reach_greeting(call, box(skip_greeting=True))
    assert call.said() == ["leave_message_instructions"]
    call = Call()
    reach_greeting(call, box(skip_greeting=True, skip_instructions=True))
    assert isinstance(call.action, Record)


def test_star_during_the_greeting_logs_in_to_the_box():
    call = Call()
    reach_greeting(call, box())
    call.reply(PlaybackStopped("*"))
    assert call.said() == ["enter_pin"]
    assert call.reply(DigitsEntered("1234")) == CheckPin("b" * 32, "1234")


def test_zero_goes_to_the_box_operator_number_first():
    call = Call(operator="100")
    reach_greeting(call, box(operator_number="555"))
    assert call.reply(PlaybackStopped("0")) == Transfer("operator", "555")
    assert call.flow.finished


def test_zero_goes_to_the_dialplan_operator_without_a_box_one():
    call = Call(operator="100")
    reach_greeting(call, box())
    assert call.reply(PlaybackStopped("0")) == Transfer("operator", "100")


def test_zero_without_any_operator_records_instead():
    call = Call()
    reach_greeting(call, box())
    assert isinstance(call.reply(PlaybackStopped("0")), Record)


def test_any_other_key_skips_to_the_beep():
    call = Call()
    reach_greeting(call, box())
    assert isinstance(call.reply(PlaybackStopped("5")), Record)


def test_a_full_box_plays_greeting_and_notice_and_records_nothing():
    call = Call()
    reach_greeting(
        call, box(message_count=100, max_message_count=100, unavailable_greeting=GREETING)
    )
    assert call.action == ReportFull("b" * 32)
    call.reply(Done())
    assert call.said() == [Sound(GREETING), "mailbox_full"]
    assert call.action.escape == "*"
    call.reply(PlaybackStopped())
    assert call.said() == ["goodbye"]
    assert call.reply(PlaybackStopped()) == HangUp()


def test_star_still_logs_in_when_the_box_is_full():
    call = Call()
    reach_greeting(call, box(message_count=100, max_message_count=100))
    call.reply(Done())
    call.reply(PlaybackStopped("*"))
    assert call.said() == ["enter_pin"]


def test_zero_max_message_count_means_unlimited():
    call = Call()
    reach_greeting(call, box(message_count=5000, max_message_count=0))
    assert call.said()[-1] == "leave_message_instructions"


def test_announcement_only_plays_the_greeting_then_goodbye():
    call = Call()
    reach_greeting(call, box(announcement_only=True, unavailable_greeting=GREETING))
    assert call.said() == [Sound(GREETING)]
    call.reply(PlaybackStopped())
    assert call.said() == ["goodbye"]


def test_the_owner_calling_their_own_box_checks_messages():
    call = Call()
    reach_greeting(call, box(is_owner=True))
    assert call.action == LoadMessages("b" * 32, False)


def test_the_owner_leaves_a_message_when_check_if_owner_is_off():
    call = Call()
    reach_greeting(call, box(is_owner=True, check_if_owner=False))
    assert call.said()[-1] == "leave_message_instructions"


def test_the_owner_of_an_announcement_only_box_logs_in_even_without_check_if_owner():
    """KAZOO's order: the owner calling their own announcement-only box checks it, and it opens the
    options, where announcement only is turned off."""
    call = Call()
    reach_greeting(call, box(is_owner=True, check_if_owner=False, announcement_only=True))
    assert call.said() == ["options_menu_announcement_on"]
    call = Call()
    reach_greeting(
        call, box(is_owner=True, check_if_owner=False, announcement_only=True, require_pin=True)
    )
    assert call.said() == ["enter_pin"]


def too_short_at_review(call: Call, recording=SHORT, found=None) -> None:
    reach_greeting(call, found or box())
    call.reply(PlaybackStopped())
    call.reply(RecordingFinished(recording))
    assert isinstance(call.action, Collect) and call.said()[0] == "review_recording"


def test_a_too_short_recording_goes_to_the_review_and_can_be_recorded_again():
    """KAZOO always reviews: a caller who pressed # at once can record again with 3."""
    call = Call()
    too_short_at_review(call)
    assert call.said() == ["review_recording"]
    assert call.reply(DigitsEntered("3")) == DiscardRecording(SHORT)
    assert isinstance(call.reply(Done()), Record)
    call.reply(RecordingFinished(RECORDING))
    assert call.reply(DigitsEntered("1")) == SaveMessage("b" * 32, RECORDING)


def test_saving_a_too_short_recording_says_so_and_asks_again():
    call = Call()
    too_short_at_review(call)
    call.reply(DigitsEntered("1"))
    assert call.said() == ["message_too_short", "review_recording"]
    call.reply(DigitsEntered("1"))
    assert call.said() == ["message_too_short", "review_recording"]
    assert call.reply(DigitsEntered("2")) == PlayAudio(Audio("rec-short", 200), 0, "0123456789*#")


def test_a_recording_as_long_as_the_minimum_is_kept():
    call = Call(settings=settings(min_message_ms=200))
    too_short_at_review(call)
    assert call.reply(DigitsEntered("1")) == SaveMessage("b" * 32, SHORT)


def test_nothing_recorded_is_too_short_too():
    call = Call()
    too_short_at_review(call, recording=None)
    call.reply(DigitsEntered("1"))
    assert call.said() == ["message_too_short", "review_recording"]
    call.reply(DigitsEntered("2"))  # nothing to listen to
    assert call.said() == ["message_too_short", "review_recording"]
    assert isinstance(call.reply(DigitsEntered("3")), Record)  # nothing to discard


def test_a_too_short_recording_left_unreviewed_is_dropped_and_the_caller_told():
    call = Call()
    too_short_at_review(call)
    for _ in range(3):
        call.reply(DigitsEntered("", timed_out=True))
    assert call.reply(DigitsEntered("", timed_out=True)) == DiscardRecording(SHORT)
    call.reply(Done())
    assert call.said() == ["message_too_short", "goodbye"]
    assert call.reply(PlaybackStopped()) == HangUp()


def test_nothing_recorded_and_left_unreviewed_ends_the_call():
    call = Call()
    too_short_at_review(call, recording=None)
    for _ in range(4):
        call.reply(DigitsEntered("", timed_out=True))
    assert call.said() == ["message_too_short", "goodbye"]


def test_zero_on_a_too_short_recording_drops_it_and_goes_to_the_operator():
    call = Call(operator="100")
    too_short_at_review(call)
    assert call.reply(DigitsEntered("0")) == DiscardRecording(SHORT)
    assert call.reply(Done()) == Transfer("operator", "100")
    call = Call(operator="100")
    too_short_at_review(call, recording=None)
    assert call.reply(DigitsEntered("0")) == Transfer("operator", "100")


def test_hanging_up_at_the_review_of_a_too_short_recording_drops_it():
    call = Call()
    too_short_at_review(call)
    assert call.reply(CallerHungUp()) == DiscardRecording(SHORT)
    assert call.reply(Done()) == End()
    call = Call()
    too_short_at_review(call, recording=None)
    assert call.reply(CallerHungUp()) == End()


def test_hanging_up_during_recording_saves_the_message():
    call = Call()
    reach_greeting(call, box())
    call.reply(PlaybackStopped())
    assert call.reply(RecordingFinished(RECORDING, hung_up=True)) == SaveMessage(
        "b" * 32, RECORDING
    )
    assert call.reply(Done()) == End()
    assert call.flow.finished and not call.flow.problems


def test_hanging_up_during_a_too_short_recording_drops_it():
    call = Call()
    reach_greeting(call, box())
    call.reply(PlaybackStopped())
    assert call.reply(RecordingFinished(SHORT, hung_up=True)) == DiscardRecording(SHORT)
    assert call.reply(Done()) == End()


def test_hanging_up_during_review_saves_the_message():
    call = Call()
    reach_review(call)
    assert call.reply(CallerHungUp()) == SaveMessage("b" * 32, RECORDING)
    assert call.reply(Done()) == End()


def test_hanging_up_while_listening_to_the_recording_saves_it():
    call = Call()
    reach_review(call)
    assert call.reply(DigitsEntered("2")) == PlayAudio(Audio("rec-1", 5000), 0, "0123456789*#")
    assert call.reply(CallerHungUp()) == SaveMessage("b" * 32, RECORDING)


def test_hanging_up_during_the_greeting_saves_nothing():
    call = Call()
    reach_greeting(call, box())
    assert call.reply(CallerHungUp()) == End()


def test_review_listen_then_save():
    call = Call()
    reach_review(call)
    call.reply(DigitsEntered("2"))
    call.reply(PlaybackStopped())
    assert call.said() == ["review_recording"]
    assert isinstance(call.reply(DigitsEntered("1")), SaveMessage)


def test_review_rerecord_discards_and_records_again():
    call = Call()
    reach_review(call)
    assert call.reply(DigitsEntered("3")) == DiscardRecording(RECORDING)
    assert isinstance(call.reply(Done()), Record)


def test_review_zero_saves_then_goes_to_the_operator():
    call = Call(operator="100")
    reach_review(call)
    assert call.said() == ["review_recording", "review_operator"]
    assert call.reply(DigitsEntered("0")) == SaveMessage("b" * 32, RECORDING)
    assert call.reply(Done()) == Transfer("operator", "100")


def test_review_without_an_answer_keeps_the_message_after_four_silent_rounds():
    call = Call()
    reach_review(call)
    for choice in (DigitsEntered("", timed_out=True), DigitsEntered("9"), DigitsEntered("*")):
        call.reply(choice)
        assert call.said() == ["review_recording"]  # KAZOO's review: no notice
    assert call.reply(DigitsEntered("", timed_out=True)) == SaveMessage("b" * 32, RECORDING)


def test_review_rounds_are_a_setting():
    call = Call(settings=settings(review_rounds=2))
    reach_review(call)
    call.reply(DigitsEntered("9"))
    assert call.said() == ["review_recording"]
    assert call.reply(DigitsEntered("9")) == SaveMessage("b" * 32, RECORDING)


def test_a_missing_transition_ends_politely_and_is_reported():
    call = Call()
    reach_greeting(call, box())
    call.reply(DigitsEntered("1"))  # the flow was playing, not collecting
    assert call.said() == ["goodbye"]
    assert call.flow.problems == ["no transition for DigitsEntered in state greeting"]
    assert isinstance(call.reply(PlaybackStopped()), HangUp)


def test_a_missing_transition_with_a_recording_keeps_the_message():
    call = Call()
    reach_review(call)
    assert call.reply(BoxFound(None)) == SaveMessage("b" * 32, RECORDING)
    assert call.reply(Done()) == End()
    assert call.flow.problems


def test_a_callback_call_lands_the_owner_in_the_mailbox():
    call = Call(purpose=Purpose.CALLBACK)
    call.reply(Done())
    assert call.action == FindBox("3000")
    assert call.reply(BoxFound(box(is_owner=False))) == LoadMessages("b" * 32, False)


def test_a_callback_call_still_asks_the_pin_when_required():
    call = Call(purpose=Purpose.CALLBACK)
    call.reply(Done())
    call.reply(BoxFound(box(require_pin=True)))
    assert call.said() == ["enter_pin"]
    assert isinstance(call.action, Collect) and not isinstance(call.action, Play)
