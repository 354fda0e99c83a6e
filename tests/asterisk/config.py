"""Asterisk's configuration for a test run, written into a directory of its own: every path and port is
the run's (free ports for AMI and HTTP/ARI, so runs can coexist), and vmbox's asterisk_conf/*.conf are
included exactly as shipped, so the files users copy are the files tested.

Beside vmbox's contexts the dialplan has the harness's own (prefixed `test-`):
- test-caller: the caller's side of a call (the ;1 half of `Local/<exten>@<context under test>/n`).
  It records what it hears (MixMonitor's r() file: the audio received, in real time) and keeps sending
  audio by playing silence, as a phone's RTP does (a Wait() sends nothing, and the far end would then
  record only what was explicitly played). The test moves it with AMI: it sets TEST_STEP and redirects
  the channel to `step`, which presses keys, says a sound file or hangs up, then tells the test with a
  UserEvent and goes back to idling.
- test-phone: a phone being called (vmbox's callback calls dial Local/<number>@test-phone); it answers,
  announces itself with a UserEvent and then behaves as test-caller.
- test-dial: stands in for VMBOX_DIAL_CONTEXT: reports where vmbox sent a call (operator, call back).
- test-callback: where callback calls over AMI go first, to reach the vmbox that placed them.
"""

from pathlib import Path

from tests.asterisk.install import SOUNDS, Installation

REPO = Path(__file__).resolve().parents[2]
ARI_PASSWORD = "change-me-to-a-long-random-secret"  # what asterisk_conf/ari_vmbox.conf ships with
AMI_SECRET = "change-me"  # what asterisk_conf/manager_vmbox.conf ships with
# Modules that would listen on fixed ports or replace vmbox; everything else loads as on a default install.
NOLOAD = (
    "app_voicemail.so",
    "app_voicemail_imap.so",
    "app_voicemail_odbc.so",
    "chan_iax2.so",
    "chan_unistim.so",
    "chan_mgcp.so",
    "chan_skinny.so",
    "pbx_dundi.so",
    "res_xmpp.so",
    "chan_motif.so",
    "res_hep.so",
    "res_phoneprov.so",
    "res_pjsip.so",
    "app_queue.so",
    "app_minivm.so",
)
# Config files Asterisk logs an error for when they are missing.
EMPTY = (
    "cdr.conf",
    "features.conf",
    "acl.conf",
    "udptl.conf",
    "geolocation.conf",
    "aeap.conf",
    "websocket_client.conf",
    "res_http_media_cache.conf",
    "indications.conf",
    "ccss.conf",
    "statsd.conf",
    "res_config_sqlite3.conf",
    "cli_aliases.conf",
    "chan_websocket.conf",
    "prometheus.conf",
    "hep.conf",
    "res_parking.conf",
    "calendar.conf",
    "dundi.conf",
    "amd.conf",
    "res_stun_monitor.conf",
)

DIALPLAN = """\
[general]
static = yes
writeprotect = yes

[globals]
TEST_HEARD_DIR = {heard}
TEST_SILENCE = silence/10

#include "{repo}/asterisk_conf/extensions_vmbox.conf"
#include "{repo}/asterisk_conf/extensions_vmbox_ari.conf"

[test-caller]
; What this side hears goes to ${{TEST_HEARD_DIR}}/<its uniqueid>.wav (and both ways to ...-both.wav).
exten => s,1,Set(TEST_HEARD=${{TEST_HEARD_DIR}}/${{UNIQUEID}})
 same => n,MixMonitor(${{TEST_HEARD}}-both.wav,r(${{TEST_HEARD}}.wav))
 same => n,UserEvent(TestCallerUp)
 same => n(idle),Playback(${{TEST_SILENCE}})
 same => n,Goto(idle)

; A step: TEST_STEP = press:<keys> | say:<sound file without extension> | hangup; TEST_STEP_ID names it.
exten => step,1,Set(TEST_ACTION=${{CUT(TEST_STEP,:,1)}})
 same => n,Set(TEST_ARGUMENT=${{CUT(TEST_STEP,:,2-)}})
 same => n,GotoIf($["${{TEST_ACTION}}" = "hangup"]?hangup)
 same => n,ExecIf($["${{TEST_ACTION}}" = "press"]?SendDTMF(${{TEST_ARGUMENT}},120,120))
 same => n,ExecIf($["${{TEST_ACTION}}" = "say"]?Playback(${{TEST_ARGUMENT}}))
 same => n,UserEvent(TestStepDone,Step: ${{TEST_STEP_ID}})
 same => n,Goto(s,idle)
 same => n(hangup),Hangup()

[test-phone]
; A phone that answers when vmbox calls it: ${{EXTEN}} is the number called.
exten => _[0-9*#+]!,1,Answer()
 same => n,UserEvent(TestPhoneAnswered,Number: ${{EXTEN}},Formats: ${{CHANNEL(audionativeformat)}})
 same => n,Goto(test-caller,s,1)

[test-callback]
; vmbox's [ami] callback_context in the tests: it points the call at the vmbox that placed it (the global
; TEST_AGI_<account> the harness sets for each vmbox) and goes on in the shipped vmbox-callback, as a
; context of an operator's own may.
exten => _X.,1,Set(VMBOX_AGI=${{TEST_AGI_${{VMBOX_ACCOUNT}}}})
 same => n,Goto(vmbox-callback,${{EXTEN}},1)

[test-dial]
; Stands in for VMBOX_DIAL_CONTEXT: where vmbox sent the call (the operator, a sender called back).
exten => _[0-9*#+]!,1,UserEvent(TestDialled,Number: ${{EXTEN}},Result: ${{VMBOX_RESULT}})
 same => n,Hangup()
"""


# With app_voicemail (the incumbent, for comparisons) the external MWI modules cannot load beside it.
VOICEMAIL_NOLOAD = ("res_mwi_external.so", "res_mwi_external_ami.so", "res_ari_mailboxes.so")


def write_config(
    directory: Path,
    installation: Installation,
    ami_port: int,
    http_port: int,
    test_secret: str,
    voicemail: bool = False,
    files: dict[str, str] | None = None,
) -> Path:
    """Write the whole configuration under `directory`; the path of its asterisk.conf. `voicemail`:
    load app_voicemail instead of the external MWI modules vmbox uses; `files`: text appended to (or
    files added beside) the configuration files, by name."""
    etc, data = directory / "etc", directory / "data"
    for sub in (
        "etc",
        "run",
        "log",
        "db",
        "lib/keys",
        "spool/recording",
        "cache",
        "data/sounds",
        "agi-bin",
        "heard",
    ):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    for name in ("documentation", "rest-api"):
        (data / name).symlink_to(installation.data / name)
    (data / "sounds" / "en").symlink_to(SOUNDS)
    written = {
        "asterisk.conf": f"""\
[directories]
astetcdir => {etc}
astmoddir => {installation.modules}
astvarlibdir => {directory / "lib"}
astdbdir => {directory / "db"}
astkeydir => {directory / "lib"}
astdatadir => {data}
astagidir => {directory / "agi-bin"}
astspooldir => {directory / "spool"}
astrundir => {directory / "run"}
astlogdir => {directory / "log"}
astsbindir => {installation.binary.parent}
astcachedir => {directory / "cache"}

[options]
verbose = 3
nocolor = yes
defaultlanguage = en
""",
        "modules.conf": "[modules]\nautoload = yes\n"
        + "".join(
            f"noload => {name}\n"
            for name in (
                [*VOICEMAIL_NOLOAD, *(n for n in NOLOAD if not n.startswith("app_voicemail.so"))]
                if voicemail
                else NOLOAD
            )
        ),
        # `stream` is a FIFO the harness reads as Asterisk writes it (server.py): which sound each channel
        # plays (AGI's STREAM FILE raises no event, not even CEL's), the keys each channel receives,
        # and when MixMonitor has closed its files.
        "logger.conf": "[general]\ndateformat = %F %T.%3q\n\n[logfiles]\n"
        "full => notice,warning,error,verbose(3),dtmf\nstream => verbose(3),dtmf\n",
        "manager.conf": f"""\
[general]
enabled = yes
bindaddr = 127.0.0.1
port = {ami_port}

[vmbox-test]
secret = {test_secret}
permit = 127.0.0.1/255.255.255.255
read = all
write = all

#include "{REPO}/asterisk_conf/manager_vmbox.conf"
""",
        "http.conf": f"[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {http_port}\n",
        "ari.conf": f'[general]\nenabled = yes\n\n#include "{REPO}/asterisk_conf/ari_vmbox.conf"\n',
        "extensions.conf": DIALPLAN.format(repo=REPO, heard=directory / "heard"),
    }
    for name in EMPTY:
        written.setdefault(name, "")
    for name, text in (files or {}).items():
        written[name] = written.get(name, "") + text
    for name, text in written.items():
        (etc / name).write_text(text)
    return etc / "asterisk.conf"
