"""MP3 encoding in process (store/mp3.py through store.audio.Encoder): what players get, checked with
ffprobe and ffmpeg's decoder; and the event loop left free while LAME works."""

import asyncio
import json
import math
import subprocess
import wave
from pathlib import Path

import pytest

from store.audio import Encoder, FFmpeg
from store.mp3 import crc16, encode_mp3

FRAME_SAMPLES = 576  # one MPEG-2.5 layer III frame at 8 kHz: 72 ms


def make_sweep(directory: Path, seconds: float) -> Path:
    """A stored-format WAV (8 kHz 16-bit mono) of a tone sweeping 300 Hz to 3 kHz and back, waxing and
    waning: no stretch of it looks like another, so audio shifted by any delay no longer matches."""
    path = directory / f"sweep-{seconds}.wav"
    count, phase, frames = int(seconds * 8000), 0.0, bytearray()
    for n in range(count):
        t = n / 8000
        phase += 2 * math.pi * (300 + 2700 * abs(math.sin(math.pi * t / 2))) / 8000
        level = 0.3 + 0.25 * math.sin(2 * math.pi * 1.7 * t)
        frames += int(32767 * level * math.sin(phase)).to_bytes(2, "little", signed=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(frames))
    return path


def samples_of(path: Path) -> list[int]:
    with wave.open(str(path), "rb") as wav:
        data = wav.readframes(wav.getnframes())
    return [int.from_bytes(data[i : i + 2], "little", signed=True) for i in range(0, len(data), 2)]


def decoded(mp3: Path) -> list[int]:
    """The samples ffmpeg's decoder plays (it trims what the Info frame says LAME added)."""
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp3), "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, len(pcm), 2)]


def stream_of(mp3: Path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels,bit_rate:format=format_name",
            "-of",
            "json",
            str(mp3),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)
    return {**info["streams"][0], "format": info["format"]["format_name"]}


def ffmpeg_mp3(source: Path, target: Path) -> None:
    """`source` as MP3 the way vmbox made it before: an ffmpeg process with libmp3lame at 32 kbit/s."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-c:a", "libmp3lame", "-b:a", "32k"]
        + [str(target)],
        check=True,
    )


def correlation(a: list[int], b: list[int]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return cov / (var_a * var_b) ** 0.5


async def test_an_mp3_is_what_every_player_reads_and_lasts_as_long_as_its_source(tmp_path):
    source = make_sweep(tmp_path, 2.5)
    target = tmp_path / "out.mp3"
    await Encoder(FFmpeg()).encode(source, "mp3", target)
    assert stream_of(target) == {
        "codec_name": "mp3",
        "sample_rate": "8000",
        "channels": 1,
        "bit_rate": "32000",
        "format": "mp3",
    }
    played, original = decoded(target), samples_of(source)
    assert abs(len(played) - len(original)) < FRAME_SAMPLES
    # In step with the source from its first sample: the encoder delay is trimmed, not heard.
    assert correlation(played[: len(original)], original[: len(played)]) > 0.95


async def test_it_sounds_as_ffmpegs_libmp3lame_encoding_did(tmp_path):
    source = make_sweep(tmp_path, 1.5)
    ours, theirs = tmp_path / "ours.mp3", tmp_path / "ffmpeg.mp3"
    await Encoder(FFmpeg()).encode(source, "mp3", ours)
    ffmpeg_mp3(source, theirs)
    ours_played, theirs_played = decoded(ours), decoded(theirs)
    assert len(ours_played) == len(theirs_played)
    noise = sum((a - b) ** 2 for a, b in zip(ours_played, theirs_played, strict=True))
    signal = sum(b * b for b in theirs_played)
    assert noise <= signal / 1000  # 30 dB apart at least (LAME's quality 7 against ffmpeg's 3)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2), (11025, 2)])
def test_other_rates_and_stereo_last_as_long_as_their_source(tmp_path, rate, channels):
    """Frames too small for the Info frame's table of contents get one without it."""
    samples = rate  # one second
    pcm = b"".join(
        int(8000 * math.sin(2 * math.pi * 440 * n / rate)).to_bytes(2, "little", signed=True)
        * channels
        for n in range(samples)
    )
    mp3 = tmp_path / "out.mp3"
    mp3.write_bytes(encode_mp3(pcm, rate, channels))
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp3), "-f", "s16le", "-ac", str(channels), "-"],
        check=True,
        capture_output=True,
    ).stdout
    assert len(out) == samples * 2 * channels


def test_the_lame_tag_checksum_is_crc16_arc():
    assert crc16(b"123456789") == 0xBB3D
    assert crc16(b"") == 0


def test_input_that_is_not_16_bit_pcm_is_refused():
    with pytest.raises(ValueError):
        encode_mp3(b"\x00\x01\x02", 8000)
    with pytest.raises(ValueError):
        encode_mp3(b"\x00" * 6, 8000, channels=2)


async def test_a_source_that_is_not_a_wav_file_is_a_runtime_error(tmp_path):
    source = tmp_path / "not.wav"
    source.write_bytes(b"RIFF but not really")
    with pytest.raises(RuntimeError, match="mp3"):
        await Encoder(FFmpeg()).encode(source, "mp3", tmp_path / "out.mp3")
    with pytest.raises(FileNotFoundError):
        await Encoder(FFmpeg()).encode(tmp_path / "gone.wav", "mp3", tmp_path / "out.mp3")


async def test_encoding_leaves_the_event_loop_free(tmp_path):
    """Ten minutes of audio take LAME a good fraction of a second: the loop turns all the while."""
    with wave.open(str(make_sweep(tmp_path, 10)), "rb") as short:
        ten_seconds = short.readframes(short.getnframes())
    source = tmp_path / "long.wav"
    with wave.open(str(source), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(ten_seconds * 60)
    encoder = Encoder(FFmpeg())
    encoding = asyncio.ensure_future(encoder.encode(source, "mp3", tmp_path / "out.mp3"))
    turns = 0
    while not encoding.done():
        turns += 1
        await asyncio.sleep(0)  # one turn of the loop, not a wait for time to pass
    await encoding
    assert turns > 100
    assert encoder.encoded == {"mp3": 1}


async def test_mp4_still_goes_through_ffmpeg(tmp_path):
    source = make_sweep(tmp_path, 1)
    encoder = Encoder(FFmpeg())
    await encoder.encode(source, "mp4", tmp_path / "out.mp4")
    assert "mp4" in stream_of(tmp_path / "out.mp4")["format"]
    assert encoder.encoded == {"mp4": 1}
