"""`vmbox doctor` run as an operator runs it (`python -m ivr.cli doctor`, vmbox's settings in VMBOX_*
variables) against real Asterisks: the harness's, beside its running `vmbox serve` processes, where every
check passes; and small Asterisks of their own, each set up wrong in one way (or the doctor given one
wrong setting), where the doctor prints exactly one FAIL line, naming what is wrong and the line of
asterisk_conf/README.md that fixes it (found here by a text of that line: the doctor finds it on its own).
"""

import asyncio
import os
import re
import socket
import sys
from pathlib import Path

import pytest

from ivr.doctor_report import FIXES
from prompts.catalogue import SHIPPED
from tests.asterisk.config import AMI_SECRET, ARI_PASSWORD
from tests.asterisk.server import Asterisk, free_port
from tests.asterisk.vmbox import DRIVERS

README = Path(__file__).resolve().parents[1] / "asterisk_conf" / "README.md"
DOCTOR = [sys.executable, "-m", "ivr.cli", "doctor"]
STATUS = re.compile(r"(OK|FAIL|SKIP) +([^:]+): ")
FASTAGI_OK = [
    "AMI login",
    "AMI rights",
    "AMI events",
    "lamps",
    "dialplan",
    "FastAGI",
    "recordings",
    "core sounds",
    "vmbox prompts",
]
ARI_OK = ["ARI login", "ARI application", "lamps", "dialplan", "core sounds", "vmbox prompts"]


def see(text: str) -> str:
    """The reference to the one README line that holds `text`, as the doctor prints it."""
    found = [
        (number, line.strip())
        for number, line in enumerate(README.read_text().splitlines(), 1)
        if text in line
    ]
    assert len(found) == 1, (text, found)
    return f"see asterisk_conf/README.md line {found[0][0]}: {found[0][1]}"


async def doctor(settings: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """`vmbox doctor` with only these VMBOX_* settings, in `cwd`; its exit status and output lines."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("VMBOX_")}
    process = await asyncio.create_subprocess_exec(
        *DOCTOR,
        env=env | settings,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    lines = out.decode().splitlines()
    assert lines and lines[-1].startswith("vmbox doctor: "), (out.decode(), err.decode())
    return process.returncode, lines


def statuses(lines: list[str]) -> dict[str, str]:
    """Check name -> OK, FAIL or SKIP."""
    return {match[2]: match[1] for line in lines if (match := STATUS.match(line))}


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def fastagi_settings(asterisk: Asterisk, data: Path, **more: str) -> dict[str, str]:
    """A FastAGI set-up's settings against `asterisk`, on a free FastAGI port (no vmbox serve there)."""
    (data / "recordings").mkdir(parents=True, exist_ok=True)
    return {
        "VMBOX_STORE_DATA_DIR": str(data),
        "VMBOX_AGI_PORT": str(free_port()),
        "VMBOX_AMI_HOST": "127.0.0.1",
        "VMBOX_AMI_PORT": str(asterisk.ami_port),
        "VMBOX_AMI_SECRET": AMI_SECRET,
        **more,
    }


def ari_settings(asterisk: Asterisk, data: Path, **more: str) -> dict[str, str]:
    return {
        "VMBOX_STORE_DATA_DIR": str(data),
        "VMBOX_AGI_PORT": "0",
        "VMBOX_ARI_URL": asterisk.ari_url,
        "VMBOX_ARI_PASSWORD": ARI_PASSWORD,
        "VMBOX_ARI_APP": "vmbox-doctored",
        **more,
    }


def settings_for(driver: str, asterisk: Asterisk, data: Path, **more: str) -> dict[str, str]:
    return (fastagi_settings if driver == "fastagi" else ari_settings)(asterisk, data, **more)


@pytest.fixture
async def asterisks(real_asterisk, tmp_path):
    """Starts small Asterisks of the test's own (same installation as the harness's); stops them."""
    started: list[Asterisk] = []

    async def start(name: str = "asterisk", **options) -> Asterisk:
        asterisk = Asterisk(real_asterisk.installation, tmp_path / name, **options)
        started.append(asterisk)
        return await asterisk.start()

    yield start
    for asterisk in started:
        await asterisk.stop()


def test_each_fix_is_the_text_of_one_readme_line():
    for fix in FIXES:
        assert sum(fix in line for line in README.read_text().splitlines()) == 1, fix


async def test_help_names_the_checks(tmp_path):
    process = await asyncio.create_subprocess_exec(
        *DOCTOR, "--help", stdout=asyncio.subprocess.PIPE, cwd=tmp_path
    )
    out = (await process.communicate())[0].decode()
    assert process.returncode == 0
    assert "usage: vmbox doctor" in out and "Exit status: 0 when no check failed" in out
    for check in [*FASTAGI_OK, "ARI login", "ARI application"]:
        assert check in out, check


# The running set-up: the harness's Asterisk and its vmbox serve per driver.


@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_running_set_up_passes_every_check(driver, real_asterisk):
    vmbox = real_asterisk.vmboxes[driver]
    settings = vmbox.serve.env | {"VMBOX_AGI_PORT": str(vmbox.serve.agi_address[1])}
    status, lines = await doctor(settings, vmbox.serve.cwd)

    assert status == 0, "\n".join(lines)
    checks = statuses(lines)
    passing = FASTAGI_OK if driver == "fastagi" else ARI_OK
    assert [check for check, said in checks.items() if said == "OK"] == passing, "\n".join(lines)
    assert set(checks.values()) == {"OK", "SKIP"}
    skipped = len(checks) - len(passing)
    assert lines[-1] == f"vmbox doctor: all {len(passing)} checks passed, {skipped} skipped"
    if driver == "fastagi":
        # Asterisk itself reached vmbox serve, which answered the unknown script as it does.
        agi = f"agi://127.0.0.1:{vmbox.serve.agi_address[1]}"
        assert f"OK    FastAGI: Asterisk reached vmbox serve at {agi}" in lines
        real_asterisk.run(
            vmbox.serve.until_printed(re.compile("vmbox doctor's probe call reached vmbox"))
        )
    else:
        assert (
            f"OK    ARI application: {vmbox.app!r} is registered (vmbox serve is running)" in lines
        )


# The doctor given one wrong setting, against the harness's Asterisk.


async def test_a_wrong_ami_secret(real_asterisk, tmp_path):
    asterisk = real_asterisk.asterisk
    status, lines = await doctor(
        fastagi_settings(asterisk, tmp_path / "data", VMBOX_AMI_SECRET="not-the-secret"), tmp_path
    )
    assert status == 1
    assert failures(lines) == [
        f"FAIL  AMI login: Asterisk at 127.0.0.1:{asterisk.ami_port} refused the login as 'vmbox'"
        " (Authentication failed): the secret differs from manager_vmbox.conf's, or the user's permit"
        f" leaves this host out; {see('Put a secret of your own in `manager_vmbox.conf`')}"
    ]


async def test_a_wrong_ari_password(real_asterisk, tmp_path):
    asterisk = real_asterisk.asterisk
    status, lines = await doctor(
        ari_settings(asterisk, tmp_path / "data", VMBOX_ARI_PASSWORD="not-the-password"), tmp_path
    )
    assert status == 1
    assert failures(lines) == [
        f"FAIL  ARI login: Asterisk at {asterisk.ari_url} refused the login as 'vmbox' (401): the"
        " password differs from ari_vmbox.conf's, or the user is not there;"
        f" {see('set a long random password there')}"
    ]


async def test_fastagi_that_asterisk_cannot_reach(real_asterisk, tmp_path):
    """vmbox's FastAGI port is held by a socket that accepts no connection (as a port Asterisk cannot
    get through to): the doctor cannot listen there in vmbox's place, and Asterisk's AGI() fails."""
    asterisk = real_asterisk.asterisk
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        settings = fastagi_settings(asterisk, tmp_path / "data", VMBOX_AGI_PORT=str(port))
        status, lines = await doctor(settings, tmp_path)
    assert status == 1
    assert failures(lines) == [
        f"FAIL  FastAGI: Asterisk could not reach vmbox at agi://127.0.0.1:{port}"
        f" (AGISTATUS=FAILURE); {see('| `VMBOX_AGI` |')}"
    ]
    assert statuses(lines)["recordings"] == "OK"  # the rest of the probe call went on


async def test_prompts_asterisk_cannot_play(real_asterisk, tmp_path):
    empty = tmp_path / "prompts"
    empty.mkdir()
    status, lines = await doctor(
        fastagi_settings(
            real_asterisk.asterisk, tmp_path / "data", VMBOX_IVR_PROMPTS_DIR=str(empty)
        ),
        tmp_path,
    )
    first, rest = sorted(SHIPPED)[:5], len(SHIPPED) - 5
    assert status == 1
    assert failures(lines) == [
        f"FAIL  vmbox prompts: Asterisk cannot play {len(SHIPPED)} of vmbox's {len(SHIPPED)} prompts"
        f" in {empty}: {', '.join(first)} and {rest} more; {see('`[ivr] prompts_dir`')}"
    ]


async def test_a_fastagi_set_up_without_ami(tmp_path):
    status, lines = await doctor({"VMBOX_STORE_DATA_DIR": str(tmp_path / "data")}, tmp_path)
    assert status == 1
    assert failures(lines) == [
        "FAIL  AMI login: [ami] host is empty: the doctor looks at Asterisk's side of a FastAGI"
        " set-up over AMI (vmbox uses it for callback calls and lamps);"
        f" {see('# empty: no callback calls, no lamps')}"
    ]


# Asterisks set up wrong.


@pytest.mark.parametrize("driver", DRIVERS)
async def test_app_voicemail_instead_of_res_mwi_external(driver, asterisks, tmp_path):
    asterisk = await asterisks(voicemail=True)
    status, lines = await doctor(settings_for(driver, asterisk, tmp_path / "data"), tmp_path)
    assert status == 1
    said = (
        "app_voicemail is loaded, so res_mwi_external cannot be: AMI has no MWIUpdate"
        if driver == "fastagi"
        else "app_voicemail.so is loaded, so res_mwi_external.so cannot be"
    )
    assert failures(lines) == [f"FAIL  lamps: {said}; {see('noload => app_voicemail.so')}"]


@pytest.mark.parametrize("asterisk_has_it", [True, False])
async def test_a_recordings_directory_not_shared(asterisk_has_it, asterisks, tmp_path):
    """/proc/self/cwd/recordings names a different directory in each process: Asterisk's under its
    working directory, vmbox's under the doctor's, as one path on two hosts would."""
    asterisk_side, vmbox_side = tmp_path / "asterisk-cwd", tmp_path / "vmbox-cwd"
    (vmbox_side / "recordings").mkdir(parents=True)
    (asterisk_side / "recordings").mkdir(parents=True) if asterisk_has_it else asterisk_side.mkdir()
    asterisk = await asterisks(cwd=asterisk_side)
    shared = "/proc/self/cwd/recordings"
    settings = fastagi_settings(asterisk, tmp_path / "data", VMBOX_AGI_RECORDINGS_DIR=shared)
    status, lines = await doctor(settings, vmbox_side)

    assert status == 1
    if asterisk_has_it:
        assert failures(lines) == [
            f"FAIL  recordings: Asterisk wrote a recording into {shared}, but vmbox does not find it"
            " there: the path does not name the same directory for both;"
            f" {see('must see **the same directories')}"
        ]
        assert [path.suffix for path in (asterisk_side / "recordings").iterdir()] == [".wav"]
    else:
        assert failures(lines) == [
            f"FAIL  recordings: Asterisk cannot create a file in {shared} (RECORD FILE: writefile):"
            " the directory is missing on Asterisk's side, or Asterisk may not write it;"
            f" {see('writes the recordings directory and reads the data directory')}"
        ]
    assert list((vmbox_side / "recordings").iterdir()) == []


MISSING = {  # what is removed from Asterisk's dialplan, and the README text that puts it back
    "doctor": ("fastagi", ["vmbox-doctor"], "lacks `[vmbox-doctor]`"),
    "ari": (
        "ari",
        ["vmbox-ari-leave", "vmbox-ari-check"],
        '`#include "extensions_vmbox_ari.conf"`',
    ),
    "all": (
        "fastagi",
        [
            "vmbox-settings",
            "vmbox-leave",
            "vmbox-check",
            "vmbox-continue",
            "vmbox-dial",
            "vmbox-callback",
            "vmbox-doctor",
        ],
        '#include "extensions_vmbox.conf"',
    ),
}


@pytest.mark.parametrize("case", sorted(MISSING))
async def test_missing_vmbox_contexts(case, asterisks, tmp_path):
    driver, removed, fix = MISSING[case]
    asterisk = await asterisks()
    for context in removed:
        assert "Removed" in await asterisk.command(f"dialplan remove context {context}")
    status, lines = await doctor(settings_for(driver, asterisk, tmp_path / "data"), tmp_path)
    assert status == 1
    assert failures(lines) == [
        f"FAIL  dialplan: not in Asterisk's dialplan: {', '.join(removed)}; {see(fix)}"
    ]


NARROW_USERS = """
[no-originate]
secret = no-originate
permit = 127.0.0.1/255.255.255.255
read = call
write = call

[deaf]
secret = deaf
permit = 127.0.0.1/255.255.255.255
read = system
write = originate,call
"""


async def test_ami_rights_missing(asterisks, tmp_path):
    asterisk = await asterisks(files={"manager.conf": NARROW_USERS})
    data = tmp_path / "data"
    users = {
        name: fastagi_settings(asterisk, data, VMBOX_AMI_USERNAME=name, VMBOX_AMI_SECRET=name)
        for name in ("no-originate", "deaf")
    }
    status, lines = await doctor(users["no-originate"], tmp_path)
    assert status == 1
    assert failures(lines) == [
        "FAIL  AMI rights: 'no-originate' may not send Originate (callback calls, the doctor's probe"
        f" call); {see('| `write = originate` |')}"
    ]
    status, lines = await doctor(users["deaf"], tmp_path)
    assert status == 1
    assert failures(lines) == [
        "FAIL  AMI events: no OriginateResponse within 10 s of the call's end: vmbox would not learn"
        f" how its callback calls end; {see('| `read = call` |')}"
    ]
