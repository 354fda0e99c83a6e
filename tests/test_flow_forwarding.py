"""The flow of a forward behind a spoken comment (KAZOO's prepend_forward), with `forward_comment` on;
plain forwards are in test_flow_checking.py."""

from ivr.flow.actions import (
    DiscardRecording,
    End,
    FindForwardTarget,
    ForwardMessage,
    PlayAudio,
    Record,
    SetFolder,
)
from ivr.flow.events import (
    BoxFound,
    CallerHungUp,
    DigitsEntered,
    Done,
    Forwarded,
    ForwardTargetFound,
    MessagesLoaded,
    PlaybackStopped,
    RecordingFinished,
)
from ivr.flow.model import Audio, Purpose, Recording, Settings
from tests.flowkit import RECORDING, Call, box, message

BOX_ID = "b" * 32
FIRST = message(1)
COMMENTS = Settings(forward_comment=True)


def at_menu(settings: Settings = COMMENTS) -> Call:
    """The owner of 3000 at the message menu after hearing FIRST."""
    call = Call(purpose=Purpose.CHECK, settings=settings)
    call.reply(Done())
    call.reply(BoxFound(box(is_owner=True)))
    call.reply(MessagesLoaded((FIRST,), ()))
    call.reply(DigitsEntered("1"))
    for _ in range(3):  # the envelope, the message, then the menu
        call.reply(PlaybackStopped())
    assert call.said() == ["message_menu"]
    return call


def at_forward_menu() -> Call:
    call = at_menu()
    call.reply(DigitsEntered("3"))
    assert call.reply(DigitsEntered("3001")) == FindForwardTarget(BOX_ID, "3001")
    call.reply(ForwardTargetFound(True))
    assert call.said() == ["forward_menu"]
    return call


def recorded_comment() -> Call:
    call = at_forward_menu()
    call.reply(DigitsEntered("1"))
    assert call.said() == ["record_comment"]
    assert isinstance(call.reply(PlaybackStopped()), Record)
    call.reply(RecordingFinished(RECORDING))
    assert call.said() == ["review_recording"]
    return call


def test_without_forward_comment_the_message_is_forwarded_at_once():
    call = at_menu(Settings())
    call.reply(DigitsEntered("3"))
    assert call.reply(DigitsEntered("3001")) == ForwardMessage(BOX_ID, FIRST.id, "3001")


def test_an_accepted_comment_goes_with_the_message_and_the_message_is_saved():
    call = recorded_comment()
    assert call.reply(DigitsEntered("1")) == ForwardMessage(BOX_ID, FIRST.id, "3001", RECORDING)
    assert call.reply(Forwarded(True)) == SetFolder(BOX_ID, FIRST.id, "saved")
    call.reply(Done())
    assert call.said() == ["message_forwarded"]


def test_two_forwards_the_message_as_it_is():
    call = at_forward_menu()
    assert call.reply(DigitsEntered("2")) == ForwardMessage(BOX_ID, FIRST.id, "3001")


def test_zero_or_pound_goes_back_to_the_message_menu_untouched():
    for key in ("0", "#"):
        call = at_forward_menu()
        call.reply(DigitsEntered(key))
        assert call.said() == ["message_menu"]


def test_a_wrong_key_asks_again_then_gives_up_to_the_message_menu():
    call = at_forward_menu()
    call.reply(DigitsEntered("7"))
    assert call.said() == ["invalid_choice", "forward_menu"]
    call.reply(DigitsEntered("", timed_out=True))
    call.reply(DigitsEntered("9"))
    assert call.said() == ["message_menu"]


def test_an_unknown_mailbox_is_said_and_asked_again():
    call = at_menu()
    call.reply(DigitsEntered("3"))
    call.reply(DigitsEntered("4000"))
    call.reply(ForwardTargetFound(False))
    assert call.said() == ["invalid_mailbox", "enter_forward_mailbox"]


def test_the_comment_can_be_heard_and_recorded_again():
    call = recorded_comment()
    audio = Audio(RECORDING.handle, RECORDING.length_ms)
    assert call.reply(DigitsEntered("2")) == PlayAudio(audio, 0, "0123456789*#")
    call.reply(PlaybackStopped())
    assert call.said() == ["review_recording"]
    assert call.reply(DigitsEntered("3")) == DiscardRecording(RECORDING)
    assert isinstance(call.reply(Done()), Record)
    again = Recording("rec-2", 3000)
    call.reply(RecordingFinished(again))
    assert call.reply(DigitsEntered("1")) == ForwardMessage(BOX_ID, FIRST.id, "3001", again)


def test_a_review_left_unanswered_drops_the_comment_and_forwards_nothing():
    call = recorded_comment()
    for _ in range(3):
        call.reply(DigitsEntered("", timed_out=True))
        assert call.said() == ["review_recording"]
    assert call.reply(DigitsEntered("", timed_out=True)) == DiscardRecording(RECORDING)
    call.reply(Done())
    assert call.said() == ["message_menu"]


def test_hanging_up_while_recording_forwards_the_comment_then_files_the_message():
    call = at_forward_menu()
    call.reply(DigitsEntered("1"))
    call.reply(PlaybackStopped())
    action = call.reply(RecordingFinished(RECORDING, hung_up=True))
    assert action == ForwardMessage(BOX_ID, FIRST.id, "3001", RECORDING)
    assert call.reply(Forwarded(True)) == SetFolder(BOX_ID, FIRST.id, "saved")
    assert call.reply(Done()) == End()
    assert call.flow.finished and not call.flow.problems


def test_hanging_up_at_the_review_forwards_the_comment_not_a_message_of_ones_own():
    call = recorded_comment()
    assert call.reply(CallerHungUp()) == ForwardMessage(BOX_ID, FIRST.id, "3001", RECORDING)
    assert call.reply(Forwarded(False)) == End()
    assert call.flow.finished and not call.flow.problems


def test_hanging_up_while_the_comment_plays_back_forwards_it():
    call = recorded_comment()
    call.reply(DigitsEntered("2"))
    assert call.reply(CallerHungUp()) == ForwardMessage(BOX_ID, FIRST.id, "3001", RECORDING)


def test_hanging_up_at_the_forward_menu_ends_with_nothing_forwarded():
    call = at_forward_menu()
    assert call.reply(CallerHungUp()) == End()
