"""AriCall against a scripted event queue: what it asks of ARI and what it makes of the events, for
orders the fake ARI server's one-key-per-window caller does not produce (keys typed fast)."""

from types import SimpleNamespace

from ivr.ari.driver import AriCall
from ivr.flow.actions import Collect, Prompt
from ivr.flow.events import DigitsEntered
from ivr.flow.model import CallInfo, Purpose, Settings
from prompts.catalogue import PromptCatalogue


class RecordingClient:
    """Answers every request as ARI does when it succeeds (nothing to return) and keeps the requests."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, **params):
        self.requests.append((method, path))


def event(kind: str, **fields) -> dict:
    return {"type": kind, "timestamp": "2026-11-27T08:00:00.000+0000", **fields}


def playback(kind: str, number: int, keys: str = "0123456789sh") -> dict:
    return event(kind, playback={"id": f"1.1-{number}-{keys}", "target_uri": "channel:1.1"})


async def test_keys_typed_while_a_prompt_stops_are_kept_for_the_digits_that_follow():
    client = RecordingClient()
    app = SimpleNamespace(
        client=client,
        services=None,
        prompts=PromptCatalogue(),
        flow_settings=Settings(),
        media=None,
        recordings_dir="/nonexistent",
    )
    call = AriCall(app, "1.1", CallInfo("1.1", Purpose.CHECK))
    for queued in [
        playback("PlaybackStarted", 1),
        event("ChannelDtmfReceived", digit="1"),
        event("ChannelDtmfReceived", digit="2"),
        event("ChannelDtmfReceived", digit="3"),
        playback("PlaybackFinished", 1),
        playback("PlaybackFinished", 2),
        playback("PlaybackFinished", 3),
        playback("PlaybackStarted", 4),
        playback("PlaybackFinished", 4),
    ]:
        call.events.put_nowait(queued)
    entered = await call.execute(Collect((Prompt("enter_pin"),), 6, 5000, 3000))
    assert entered == DigitsEntered("123", timed_out=True)
    stops = [path for method, path in client.requests if method == "DELETE"]
    assert stops == [
        "/playbacks/1.1-1-0123456789sh",
        "/playbacks/1.1-2-0123456789sh",
        "/playbacks/1.1-3-0123456789sh",
    ]
    assert call.events.empty()
