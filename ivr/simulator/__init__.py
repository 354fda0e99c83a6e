"""The call simulator: Asterisk's side of a FastAGI call (or of an ARI Stasis application), for tests,
benchmarks and `vmbox call`.

- `script`: the caller's script language (press, wait, silence, say, hangup), parsed purely;
- `caller`: how the steps meet the commands, in virtual time;
- `asterisk`: the command handler, a command line in and res_agi.c's reply lines out;
- `recording`, `getdata`, `audio`, `commands`, `channel`: RECORD FILE, GET DATA's digit
  collection, WAV files, the command table, the channel and its variables;
- `client.run_call`: one call over real TCP; `transcript`: what the caller heard, pressed, recorded;
- `ari`, `ari_channel`, `ari_media`: a fake ARI server (REST + websocket) running the same scripted
  caller into vmbox's Stasis application, writing the same transcript.
"""

from ivr.simulator.client import DEFAULT_PORT, DEFAULT_SOUNDS, parse_caller_id, run_call
from ivr.simulator.script import ScriptError, parse_script
from ivr.simulator.transcript import Transcript

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SOUNDS",
    "ScriptError",
    "Transcript",
    "parse_caller_id",
    "parse_script",
    "run_call",
]
