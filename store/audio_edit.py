"""Editing PCM audio in process (pydub, fenced here): joining a forwarded message behind a comment.

Everything is made in the stored format, 8 kHz 16-bit mono WAV (Asterisk's `wav`), so what is joined
plays as it is on a call and needs no conversion on its way into the store.
"""

import warnings
from pathlib import Path

with warnings.catch_warnings():
    # pydub imports the standard audioop, deprecated since Python 3.11 (3.13 needs the audioop-lts
    # package, a marker-guarded dependency); the warning is pydub's to fix, not ours to show.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import PydubException
    from pydub.generators import Sine

from store.errors import NotAudio

RATE, WIDTH = 8000, 2
# KAZOO's tone between a comment and the message it forwards: 440 Hz for 500 ms.
TONE_HZ, TONE_MS = 440, 500


def _stored_format(segment: AudioSegment) -> AudioSegment:
    return segment.set_channels(1).set_frame_rate(RATE).set_sample_width(WIDTH)


def tone(hz: int = TONE_HZ, ms: int = TONE_MS) -> AudioSegment:
    """A sine at half of full scale (-6 dBFS), as loud as a phone's beep."""
    return _stored_format(
        Sine(hz, sample_rate=RATE, bit_depth=8 * WIDTH).to_audio_segment(ms, -6.0)
    )


def prepend_comment(comment: Path, message: Path, joined: Path) -> int:
    """Write to `joined` the WAV `comment`, KAZOO's tone, then the WAV `message`; return its length in
    milliseconds. Raises NotAudio when either cannot be read."""
    try:
        before, after = AudioSegment.from_wav(comment), AudioSegment.from_wav(message)
    except (PydubException, OSError, EOFError) as exc:
        raise NotAudio(f"cannot join the comment and the message: {exc}") from exc
    whole = _stored_format(before) + tone() + _stored_format(after)
    whole.export(joined, format="wav")
    return len(whole)
