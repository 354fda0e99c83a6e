"""Transcription: the offline engine on Asterisk's recorded prompts (word error rate against the sound
package's own transcripts), the HTTP engine against a local OpenAI-compatible server, and the
`transcribe` job as `vmbox serve` wires it (real store, real API, real SMTP server, a clock the tests move).
"""

import asyncio
import shutil
import socket
import wave
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ivr.config import ConfigError, JobSettings, Settings, SmtpSettings, TranscriptionSettings
from ivr.notify.dispatch import Dispatcher
from ivr.notify.setup import notifications
from ivr.notify.transcribe import (
    HttpEngine,
    NullEngine,
    PocketSphinxEngine,
    Transcription,
    TranscriptionFailed,
    TranscriptionUnavailable,
    endpoint,
    make_engine,
)
from store.jobs import Job, NewJob, attempts_of, enqueue_job
from store.messages import create_message, get_message, set_transcription
from tests.test_notify_email import all_finished, bodies, clock, jobs  # noqa: F401 (fixtures)
from tests.transcribekit import Request, TranscriptionServer, error, says
from tests.wer import SOUNDS, edit_distance, prompt_corpus, word_error_rate, words

# --- the word error rate itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Press 5 to leave a message", ["press", "five", "to", "leave", "a", "message"]),
        (
            "Please leave your message after the tone. (simple tone sound plays)",
            ["please", "leave", "your", "message", "after", "the", "tone"],
        ),
        (
            "I'm sorry, the user's box can't... re-enter!",
            ["i'm", "sorry", "the", "user's", "box", "can't", "re", "enter"],
        ),
        ("[ascending tones]", []),
        ("press 10", ["press", "one", "zero"]),
    ],
)
def test_texts_are_compared_as_normalised_words(text, expected):
    assert words(text) == expected


@pytest.mark.parametrize(
    "reference, hypothesis, distance",
    [
        ("a b c", "a b c", 0),
        ("a b c", "a x c", 1),  # substitution
        ("a b c", "a c", 1),  # deletion
        ("a b c", "a b b c", 1),  # insertion
        ("a b c", "", 3),
        ("", "a b", 2),
        ("kitten sitting on", "sitting kitten on", 2),
    ],
)
def test_edit_distance_counts_word_edits(reference, hypothesis, distance):
    assert edit_distance(reference.split(), hypothesis.split()) == distance


def test_the_corpus_rate_weighs_every_reference_word_alike():
    # 1 error in 1 word and 0 in 3: 1/4 over the corpus, not the mean of 1.0 and 0.0
    assert word_error_rate(["yes", "press one now"], ["no", "Press 1, now."]) == 0.25
    assert (
        word_error_rate(["press one"], ["press one or two"]) == 1.0
    )  # insertions count: it may exceed 1
    with pytest.raises(ValueError):
        word_error_rate(["a"], [])


# --- the offline engine on Asterisk's prompts -------------------------------------------------------------

# Prompts pocketsphinx hears fairly well (together 0.23 when this was written: 6 errors in 26 words), so
# that a bound well below 1 separates a working engine from a broken one. Over all vm-* prompts the rate
# is ~0.75: that figure is the benchmark's (tests/bench/bench_transcribe.py); four keep this test quick.
SAMPLE = ("vm-passchanged", "vm-nobodyavail", "vm-starmain", "vm-pls-try-again")
WER_BOUND = 0.45


@pytest.fixture(scope="module")
def sample():
    corpus = {prompt.name: prompt for prompt in prompt_corpus()}
    return [corpus[name] for name in SAMPLE]


async def rate_of(engine, paths: list[Path], references: list[str]) -> tuple[float, list[str]]:
    """(word error rate, the texts heard) of `engine` on `paths`."""
    try:
        heard = [await engine.transcribe(path) for path in paths]
    finally:
        await engine.close()
    return word_error_rate(references, heard), heard


def test_the_corpus_pairs_asterisk_prompts_with_their_transcripts(sample):
    assert len(prompt_corpus()) >= 100  # every vm-* prompt of the package, not a lucky few
    for prompt in sample:
        with wave.open(str(prompt.path)) as audio:
            assert (audio.getframerate(), audio.getnchannels()) == (
                8000,
                1,
            )  # as messages are stored
    assert sample[1].text == "Nobody is available to take your call at the moment"


async def test_the_offline_engine_hears_asterisks_prompts(sample):
    rate, heard = await rate_of(
        PocketSphinxEngine(), [prompt.path for prompt in sample], [p.text for p in sample]
    )
    print(f"\npocketsphinx WER on {len(sample)} vm-* prompts: {rate:.2f}")
    for prompt, text in zip(sample, heard, strict=True):
        print(f"  {prompt.name}: {text!r}")
    assert rate < WER_BOUND, f"WER {rate:.2f} on {', '.join(SAMPLE)}: {heard}"


def mislabelled(prompt_path: Path, directory: Path, rate: int) -> Path:
    """The prompt's samples in a WAV whose header claims `rate` Hz."""
    with wave.open(str(prompt_path)) as source:
        frames, params = source.readframes(source.getnframes()), source.getparams()
    path = directory / prompt_path.name
    with wave.open(str(path), "wb") as target:
        target.setparams(params._replace(framerate=rate))
        target.writeframes(frames)
    return path


async def test_the_bound_tells_a_broken_engine_apart(sample, tmp_path):
    null_rate, _ = await rate_of(
        NullEngine(), [prompt.path for prompt in sample], [p.text for p in sample]
    )
    assert null_rate == 1.0
    # The shortest two read at twice their rate (what an engine that got the sample rate wrong hears); only
    # two, since the decoder searches long through audio it cannot make sense of.
    short = [sample[0], sample[-1]]
    wrong_rate, heard = await rate_of(
        PocketSphinxEngine(),
        [mislabelled(p.path, tmp_path, 16000) for p in short],
        [p.text for p in short],
    )
    print(f"\npocketsphinx WER with the sample rate wrong: {wrong_rate:.2f}")
    assert wrong_rate > WER_BOUND, heard


async def test_the_offline_engine_refuses_what_ffmpeg_cannot_read(tmp_path):
    engine = PocketSphinxEngine()
    try:
        (tmp_path / "noise.wav").write_bytes(b"RIFF not really a wave file")
        with pytest.raises(TranscriptionFailed, match="ffmpeg"):
            await engine.transcribe(tmp_path / "noise.wav")
        with pytest.raises(FileNotFoundError):
            await engine.transcribe(tmp_path / "gone.wav")
    finally:
        await engine.close()


# --- the HTTP engine against a local OpenAI-compatible server ---------------------------------------------

KEY = "sk-test-0123456789"
PROMPT = SOUNDS / "vm-nobodyavail.wav"
SAID = "Nobody is available to take your call at the moment."


@pytest.fixture
async def whisper(changes):
    server = await TranscriptionServer(KEY, says(f"  {SAID}\n"), changes.happened).start()
    yield server
    await server.close()


async def transcribe_with(url: str, path: Path = PROMPT, **options) -> str:
    engine = HttpEngine(url, **{"api_key": KEY, "model": "whisper-large-v3", **options})
    try:
        return await engine.transcribe(path)
    finally:
        await engine.close()


async def test_the_http_engine_posts_the_audio_and_model_with_the_key(whisper):
    assert await transcribe_with(whisper.url) == SAID  # the service's spacing trimmed
    [request] = whisper.requests
    assert request == Request("whisper-large-v3", PROMPT.name, "audio/wav", PROMPT.read_bytes())


def scripted(*answers: tuple[int, object]):
    """A server answer giving `answers` in turn, the last one from then on."""
    remaining = list(answers)

    async def answer(request: Request) -> tuple[int, object]:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return answer


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
async def test_an_overloaded_or_failing_service_is_unavailable(whisper, status):
    whisper.answer = scripted(error(status))
    with pytest.raises(TranscriptionUnavailable, match=f"HTTP {status}"):
        await transcribe_with(whisper.url)


@pytest.mark.parametrize("status", [400, 403, 404, 413, 415])
async def test_a_request_the_service_refuses_fails(whisper, status):
    whisper.answer = scripted(error(status))
    with pytest.raises(TranscriptionFailed, match=f"HTTP {status}"):
        await transcribe_with(whisper.url)


@pytest.mark.parametrize("api_key", ["sk-wrong", ""])
async def test_a_wrong_or_missing_key_fails(whisper, api_key):
    with pytest.raises(TranscriptionFailed, match="HTTP 401"):
        await transcribe_with(whisper.url, api_key=api_key)
    assert whisper.requests == []


@pytest.mark.parametrize(
    "body", [{"error": "no text"}, {"text": None}, {"text": 3}, ["text"], "not JSON at all"]
)
async def test_an_answer_without_a_text_fails(whisper, body):
    whisper.answer = scripted((200, body))
    with pytest.raises(TranscriptionFailed, match="without a text"):
        await transcribe_with(whisper.url)


async def test_an_empty_text_is_a_text(whisper):
    whisper.answer = scripted((200, {"text": ""}))  # silence, heard as such
    assert await transcribe_with(whisper.url) == ""


async def test_a_service_that_is_down_is_unavailable():
    with socket.socket() as bound:  # bound, never listening: the connection is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(TranscriptionUnavailable, match="ClientConnectorError"):
            await transcribe_with(f"http://127.0.0.1:{port}")


async def test_a_service_that_does_not_answer_in_time_is_unavailable(whisper):
    whisper.hold = (
        asyncio.Event()
    )  # the request arrives and is never answered (until the test ends)
    with pytest.raises(TranscriptionUnavailable, match="Timeout"):
        await transcribe_with(whisper.url, timeout_s=0.3)
    assert len(whisper.requests) == 1


async def test_a_missing_file_is_not_sent(whisper, tmp_path):
    with pytest.raises(FileNotFoundError):
        await transcribe_with(whisper.url, tmp_path / "gone.wav")
    assert whisper.requests == []


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://asr:8000", "http://asr:8000/v1/audio/transcriptions"),
        ("http://asr:8000/", "http://asr:8000/v1/audio/transcriptions"),
        ("http://asr:8000/v1", "http://asr:8000/v1/audio/transcriptions"),
        ("http://asr:8000/v1/", "http://asr:8000/v1/audio/transcriptions"),
        (
            "https://api.openai.com/v1/audio/transcriptions",
            "https://api.openai.com/v1/audio/transcriptions",
        ),
        ("http://gateway/openai/v1", "http://gateway/openai/v1/audio/transcriptions"),
        ("http://gateway/openai", "http://gateway/openai/v1/audio/transcriptions"),
        ("http://gateway/v10", "http://gateway/v10/v1/audio/transcriptions"),
    ],
)
def test_the_endpoint_is_found_from_the_base_url(url, expected):
    assert endpoint(url) == expected


# --- choosing the engine ----------------------------------------------------------------------------------


async def test_the_settings_choose_the_engine():
    assert isinstance(make_engine(TranscriptionSettings()), NullEngine)  # the default
    offline = make_engine(TranscriptionSettings(engine="pocketsphinx"))
    assert isinstance(offline, PocketSphinxEngine)
    await offline.close()
    http = make_engine(
        TranscriptionSettings(engine="http", url="http://asr:9000/v1", model="large", timeout_s=7)
    )
    assert isinstance(http, HttpEngine) and (http.endpoint, http.model) == (
        "http://asr:9000/v1/audio/transcriptions",
        "large",
    )
    await http.close()


@pytest.mark.parametrize(
    "settings, complaint",
    [
        (
            TranscriptionSettings(engine="whisper"),
            "'whisper' is not one of null, pocketsphinx, http",
        ),
        (TranscriptionSettings(engine="http"), "needs transcription.url"),
    ],
)
async def test_a_wrong_engine_setting_is_a_config_error_at_start(store, settings, complaint):
    with pytest.raises(ConfigError, match=complaint):
        make_engine(settings)
    with pytest.raises(ConfigError, match=complaint):  # `vmbox serve` stops before running any job
        async with notifications(store, Settings(transcription=settings)):
            pass


# --- the job, as `vmbox serve` runs it --------------------------------------------------------------------


@pytest.fixture
async def store(api, changes):
    """The store behind the real API, waking `changes` at every commit."""
    api.store.db.on_commit(changes.happened)
    return api.store


@asynccontextmanager
async def notifying(store, mail, clock, whisper, max_attempts: int = 5):
    """The worker of `vmbox serve`, transcribing through `whisper` and emailing through `mail`."""
    settings = Settings(
        smtp=SmtpSettings(host="127.0.0.1", port=mail.port, sender="vm@example.com", timeout_s=10),
        jobs=JobSettings(backoff_base_s=30, backoff_max_s=3600, max_attempts=max_attempts),
        transcription=TranscriptionSettings(
            engine="http", url=whisper.url, api_key=KEY, timeout_s=10
        ),
    )
    async with notifications(store, settings, clock) as worker:
        yield worker


async def run_out(store, clock, changes) -> None:
    """Let the worker finish every job, moving the clock to each retry instead of waiting for it."""

    async def settled() -> bool:
        waiting = [job for job in await jobs(store) if job.state not in ("done", "failed")]
        if (
            waiting
            and clock.sleeping
            and all(job.state == "pending" and job.run_at > clock.now() for job in waiting)
        ):
            clock.advance(min(job.run_at for job in waiting) - clock.now() + 1)
        return not waiting

    await changes.until(settled)


async def a_message(api, **box_fields) -> tuple[dict, dict]:
    """(box, message): a transcribing box emailing ann@example.com, and a message with a prompt's audio,
    left as the phone leaves one (messages made through the API are not announced)."""
    box = await api.client.create_box(
        "3000", **{"transcribe": True, "notify_email_addresses": ["ann@example.com"], **box_fields}
    )
    account = api.client.account_id
    upload = api.store.media.temp_path(".wav")
    shutil.copyfile(PROMPT, upload)  # the store takes its upload away
    audio = await api.store.media.store(upload, account)
    left = await create_message(
        api.store, account, box["id"], {"caller_id_number": "5551234"}, audio
    )
    return box, left.doc


async def transcription_shown(api, box, message) -> dict | None:
    """The message's `transcription` as the REST API returns it."""
    reply = await api.client.get(f"/vmboxes/{box['id']}/messages/{message['media_id']}")
    assert reply.status == 200, reply.body
    return reply.data.get("transcription")


def outcomes(attempts) -> list[str]:
    return [outcome for _, _, _, outcome, _ in attempts]


async def test_a_transcribing_box_is_transcribed_before_the_email(
    api, store, mail, clock, changes, whisper
):
    box, message = await a_message(api)
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    assert await transcription_shown(api, box, message) == {"result": "success", "text": SAID}
    stored = await get_message(store.db, api.client.account_id, box["id"], message["media_id"], 0)
    [request] = whisper.requests
    assert (
        request.audio == store.media.path(stored.media_file).read_bytes()
    )  # the message's own audio
    assert request.model == "whisper-1"  # the settings' default
    [transcribe] = await jobs(store, "transcribe")
    [email] = await jobs(store, "email.new_message")
    [(_, _, transcribed_at, outcome, detail)] = await attempts_of(store.db, transcribe.id)
    [(_, emailed_at, _, _, _)] = await attempts_of(store.db, email.id)
    assert (outcome, detail) == ("done", "transcribed: 10 words") and emailed_at >= transcribed_at
    [received] = mail.received
    assert (
        f"Transcription:\n{SAID}" in bodies(received.email)[0]
    )  # the email was made after the text was stored


async def test_a_service_down_is_retried_then_the_email_goes_without_text(
    api, store, mail, clock, changes, whisper
):
    whisper.answer = scripted(error(503))
    box, message = await a_message(api)
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    [transcribe] = await jobs(store, "transcribe")
    assert outcomes(await attempts_of(store.db, transcribe.id)) == ["retry", "retry", "done"]
    assert "gave up after 3 attempts" in (await attempts_of(store.db, transcribe.id))[-1][4]
    assert len(whisper.requests) == 3
    assert await transcription_shown(api, box, message) == {"result": "failure", "text": ""}
    [received] = mail.received
    assert "Transcription" not in bodies(received.email)[0]


async def test_a_service_back_before_the_last_attempt_gives_the_text(
    api, store, mail, clock, changes, whisper
):
    whisper.answer = scripted(error(429), error(502), (200, {"text": SAID}))
    box, message = await a_message(api)
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    [transcribe] = await jobs(store, "transcribe")
    assert outcomes(await attempts_of(store.db, transcribe.id)) == ["retry", "retry", "done"]
    assert await transcription_shown(api, box, message) == {"result": "success", "text": SAID}
    assert len(mail.received) == 1


async def test_the_worker_limit_below_the_transcription_attempts_still_gives_the_email(
    api, store, mail, clock, changes, whisper
):
    whisper.answer = scripted(error(503))
    box, message = await a_message(api)
    async with notifying(store, mail, clock, whisper, max_attempts=2):
        await run_out(store, clock, changes)
    [transcribe] = await jobs(store, "transcribe")
    assert transcribe.state == "done" and outcomes(await attempts_of(store.db, transcribe.id)) == [
        "retry",
        "done",
    ]
    assert await transcription_shown(api, box, message) == {"result": "failure", "text": ""}
    assert len(mail.received) == 1


async def test_a_refused_request_stores_the_failure_at_once(
    api, store, mail, clock, changes, whisper
):
    whisper.answer = scripted(error(400, "audio too long"))
    box, message = await a_message(api)
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    [transcribe] = await jobs(store, "transcribe")
    [(_, _, _, outcome, detail)] = await attempts_of(store.db, transcribe.id)
    assert outcome == "done" and "HTTP 400" in detail and "audio too long" in detail
    assert await transcription_shown(api, box, message) == {"result": "failure", "text": ""}
    assert len(whisper.requests) == 1 and len(mail.received) == 1


async def test_a_message_deleted_while_it_is_transcribed_is_left_alone(
    api, store, mail, clock, changes, whisper
):
    whisper.hold = asyncio.Event()
    box, message = await a_message(api)
    async with notifying(store, mail, clock, whisper):
        await changes.until(lambda: whisper.requests)
        deleted = await api.client.delete(f"/vmboxes/{box['id']}/messages/{message['media_id']}")
        assert deleted.status == 200
        whisper.hold.set()
        await run_out(store, clock, changes)
    [transcribe] = await jobs(store, "transcribe")
    assert (await attempts_of(store.db, transcribe.id))[0][3:] == (
        "done",
        "the message is gone; nothing to notify",
    )
    assert await jobs(store, "email.new_message") == [] and mail.received == []
    row = await store.db.fetch_one(
        "SELECT doc, state FROM messages WHERE id = ?", (message["media_id"],)
    )
    assert row["state"] == "removed" and "transcription" not in row["doc"]


def transcribe_job(api, box, message, attempts: int = 1) -> Job:
    payload = {
        "account_id": api.client.account_id,
        "box_id": box["id"],
        "message_id": message["media_id"],
    }
    return Job(1, "transcribe", None, payload, "running", 0.0, attempts)


def handler(store, whisper) -> Transcription:
    """The job handler alone, with email configured."""
    engine = HttpEngine(whisper.url, KEY)
    return Transcription(
        store,
        engine,
        Dispatcher(store, email=True, transcription=True, callbacks=False).after_transcription,
    )


async def test_a_message_deleted_before_the_job_runs_is_not_transcribed(api, store, whisper):
    box, message = await a_message(api)
    await api.client.delete(f"/vmboxes/{box['id']}/messages/{message['media_id']}")
    transcription = handler(store, whisper)
    outcome = await transcription.transcribe(transcribe_job(api, box, message))
    await transcription.close()
    assert (outcome.state, outcome.follow_ups) == ("done", ())
    assert whisper.requests == []


async def test_a_rerun_after_a_crash_does_not_transcribe_twice(api, store, whisper):
    box, message = await a_message(api)
    await set_transcription(
        store, api.client.account_id, box["id"], message["media_id"], "success", "earlier text"
    )
    job = transcribe_job(api, box, message, attempts=2)
    transcription = handler(store, whisper)
    outcome = await transcription.transcribe(job)
    await transcription.close()
    assert outcome.follow_ups == (NewJob("email.new_message", job.payload),)
    assert whisper.requests == []
    assert await transcription_shown(api, box, message) == {
        "result": "success",
        "text": "earlier text",
    }


async def test_a_box_that_does_not_transcribe_is_emailed_at_once(
    api, store, mail, clock, changes, whisper
):
    box, message = await a_message(api, transcribe=False)
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    assert await jobs(store, "transcribe") == [] and whisper.requests == []
    assert await transcription_shown(api, box, message) is None
    assert len(mail.received) == 1


async def test_a_queued_transcription_survives_a_restart(api, store, mail, clock, changes, whisper):
    whisper.answer = scripted(error(503))
    box, message = await a_message(api)
    async with notifying(
        store, mail, clock, whisper
    ):  # the first attempt fails, then the process stops
        await changes.until(lambda: whisper.requests)
        await changes.until(lambda: _retry_waiting(store))
    whisper.answer = says(SAID)
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    assert await transcription_shown(api, box, message) == {"result": "success", "text": SAID}
    assert len(mail.received) == 1 and len(whisper.requests) == 2


async def _retry_waiting(store) -> bool:
    return any(
        job.state == "pending" and job.attempts == 1 for job in await jobs(store, "transcribe")
    )


async def test_a_job_queued_by_hand_for_an_unknown_message_is_done(
    api, store, mail, clock, changes, whisper
):
    await enqueue_job(
        store.db,
        NewJob(
            "transcribe",
            {
                "account_id": api.client.account_id,
                "box_id": "0" * 32,
                "message_id": "202601-" + "0" * 32,
            },
        ),
    )
    async with notifying(store, mail, clock, whisper):
        await run_out(store, clock, changes)
    [transcribe] = await jobs(store, "transcribe")
    assert transcribe.state == "done" and whisper.requests == [] and mail.received == []
