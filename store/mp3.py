"""MP3 encoding in process with LAME (the one module that imports lameenc).

Rules:
- Constant 32 kbit/s at the input's rate and channels (MPEG-2.5 at 8 kHz mono for stored audio), as
  `ffmpeg -c:a libmp3lame -b:a 32k` made before, but with LAME's algorithm quality 7 rather than its
  default 3: on 8 kHz speech it is as close to the source (Asterisk's tt-weasels: 25.3 dB SNR against
  24.7) for 60 % of the CPU, and encoding was most of an email burst's CPU.
- lameenc writes bare frames. An Info frame (Xing header with a LAME tag, as LAME and ffmpeg write it)
  goes first, naming the encoder delay and the padding, so players trim them: the audio starts on
  its first sample and lasts as long as its source. A player that ignores the tag hears one silent
  frame first.
- Encoding is CPU work: callers run `encode_mp3` on a worker thread (lameenc releases the GIL while
  LAME encodes, so threads use every core).
"""

import struct
from typing import NamedTuple

import lameenc

BIT_RATE_KBPS = 32
QUALITY = 7
ENCODER_DELAY = 576  # samples LAME puts before the first input sample
_ENCODER = b"LAME4.0  "  # the tag's 9-byte encoder name: lameenc builds LAME 4.0 (alpha)

# Layer III: kbit/s by bitrate index, for MPEG-1 and for MPEG-2/2.5.
_BIT_RATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Sample rates by version bits (0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1) and rate index.
_SAMPLE_RATES = {0: (11025, 12000, 8000), 2: (22050, 24000, 16000), 3: (44100, 48000, 32000)}


def encode_mp3(pcm: bytes, rate: int, channels: int = 1) -> bytes:
    """16-bit little-endian PCM (interleaved when stereo) as an MP3 file with an Info frame first.

    Raises ValueError for input LAME refuses (a rate it cannot encode, odd byte counts).
    """
    if channels not in (1, 2) or len(pcm) % (2 * channels):
        raise ValueError(f"not 16-bit PCM with {channels} channel(s)")
    encoder = lameenc.Encoder()
    try:
        encoder.set_channels(channels)
        encoder.set_in_sample_rate(rate)
        encoder.set_out_sample_rate(rate)
        encoder.set_bit_rate(BIT_RATE_KBPS)
        encoder.set_quality(QUALITY)
        frames = bytes(encoder.encode(pcm)) + bytes(encoder.flush())
    except RuntimeError as exc:  # lameenc's only error: LAME refused a setting or the input
        raise ValueError(f"LAME cannot encode this audio: {exc}") from exc
    return info_frame(frames, len(pcm) // (2 * channels)) + frames


class _Frame(NamedTuple):
    header: int
    length: int  # bytes
    samples: int
    side_info: int  # bytes between the header and the Info tag
    kbps: int


def _frame_at(frames: bytes, offset: int) -> _Frame:
    (header,) = struct.unpack_from(">I", frames, offset)
    version, layer = header >> 19 & 3, header >> 17 & 3
    if header >> 21 != 0x7FF or version == 1 or layer != 1:
        raise ValueError(f"no MPEG layer III frame at byte {offset}")
    mpeg1 = version == 3
    kbps = _BIT_RATES[1 if mpeg1 else 2][header >> 12 & 15]
    rate = _SAMPLE_RATES[version][header >> 10 & 3]
    mono = header >> 6 & 3 == 3
    side_info = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    samples = 1152 if mpeg1 else 576
    length = samples // 8 * kbps * 1000 // rate + (header >> 9 & 1)
    return _Frame(header, length, samples, side_info, kbps)


def info_frame(frames: bytes, samples: int) -> bytes:
    """The Info frame for `frames` (LAME's constant-rate output) of `samples` input samples."""
    count, offset = 0, 0
    while offset < len(frames):
        offset, count = offset + _frame_at(frames, offset).length, count + 1
    first = _frame_at(frames, 0)
    header = (first.header | 1 << 16) & ~(1 << 9)  # no CRC, no padding byte
    length = first.length - (first.header >> 9 & 1)
    padding = count * first.samples - ENCODER_DELAY - samples
    if not 0 <= padding < 4096:
        raise ValueError(f"LAME padded {padding} samples; the tag holds 0 to 4095")
    total = len(frames) + length
    toc = bytes(i * 256 // 100 for i in range(100))  # constant rate: position is linear in time
    lame = (
        _ENCODER
        + bytes((0x01, 0))  # tag revision 0, constant bit rate; lowpass unknown
        + bytes(8)  # peak and replay gains: not measured
        + bytes((0, min(first.kbps, 255)))  # encoding flags, the bit rate
        + (ENCODER_DELAY << 12 | padding).to_bytes(3, "big")
        + bytes(4)  # misc, gain, preset
        + struct.pack(">IH", total, 0)  # music length; music CRC not computed (players ignore it)
    )
    start = struct.pack(">I", header) + bytes(first.side_info) + b"Info"
    body = start + struct.pack(">III", 0x0F, count, total) + toc + bytes(4) + lame
    if (
        len(body) + 2 > length
    ):  # a small frame (low bit rate, high sample rate): no table of contents
        body = start + struct.pack(">III", 0x0B, count, total) + bytes(4) + lame
    if len(body) + 2 > length:
        raise ValueError(f"an Info frame needs {len(body) + 2} bytes; frames here hold {length}")
    body += struct.pack(">H", crc16(body))  # over the whole frame up to here, as LAME computes it
    return body + bytes(length - len(body))


def crc16(data: bytes) -> int:
    """CRC-16/ARC (polynomial 0x8005 reflected, start 0), the LAME tag's checksum."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = crc >> 1 ^ 0xA001 if crc & 1 else crc >> 1
    return crc
