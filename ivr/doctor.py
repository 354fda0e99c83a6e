"""`vmbox doctor`: an operator's check of a live set-up, from vmbox's side and from Asterisk's.

It runs with vmbox's own settings (the vmbox.toml and VMBOX_* variables of `vmbox serve`), BESIDE a
running `vmbox serve` or before one is started: it never takes what vmbox serve holds. Where vmbox serve
would listen or register and is not running, the doctor does so itself while it runs (vmbox's FastAGI
address, vmbox's Stasis application), so a set-up can be checked before vmbox is started too; each
such line says so.

It needs no Asterisk rights beyond vmbox's own (asterisk_conf/manager_vmbox.conf, ari_vmbox.conf):
- FastAGI set-ups ([ari] url empty) are looked at over AMI, as vmbox's [ami] user: Login, ListCommands
  (which actions the user may send: Originate, call actions, MWIUpdate/MWIDelete), Getvar of
  DIALPLAN_EXISTS() (a call action: write = call) for the contexts, and one probe call, an Originate
  (write = originate) into [vmbox-doctor], whose OriginateResponse shows read = call. Asterisk-side
  facts come from that call (ivr/doctor_probe.py): Asterisk connects to vmbox's FastAGI address itself,
  then to the doctor, which asks Asterisk, in the call, for its language, its sounds, vmbox's prompts and
  a recording into vmbox's recordings directory. Without [ami] host the doctor cannot see Asterisk's
  side of a FastAGI set-up, and says so (vmbox itself needs AMI only for callback calls and lamps).
- ARI set-ups ([ari] url set) are looked at over ARI, as vmbox's [ari] user (ivr/doctor_ari.py), and,
  when [ami] host is set too, over AMI as above (rights; and read = call with an Originate into
  [vmbox-doctor] that hangs up at once, when callback calls go over AMI). FastAGI and the recordings
  directory are not checked then: calls come over ARI and recordings are fetched over ARI.
No check needs more: Asterisk's CLI (Command: command rights), ModuleCheck (system) and the FILE()/STAT()
functions over AMI or ARI (refused there unless live_dangerously) are not used.

Output: one line per check (ivr/doctor_report.py): OK, FAIL with the line of asterisk_conf/README.md
that fixes it, or SKIP (not used, or not possible after an earlier failure). Exit status 0 when nothing
failed, 1 otherwise.

Modules: this one runs the checks in order; doctor_ami and doctor_ari talk to Asterisk, doctor_probe
runs the probe call, doctor_files judges sounds and prompts, doctor_report prints.
"""

import asyncio
import contextlib
import sys
from collections.abc import Callable

from ivr.ami_client import AmiClient, AmiRefused
from ivr.ari.client import AriError
from ivr.config import Settings
from ivr.doctor_ami import allowed_actions, contexts_present, lamps, log_in
from ivr.doctor_ami import rights as ami_rights
from ivr.doctor_ari import AriDoctor
from ivr.doctor_files import (
    SOUNDS,
    prompt_paths,
    prompts_dir,
    prompts_readable,
    prompts_result,
    sounds_result,
)
from ivr.doctor_probe import Findings, Probe, fastagi_result, recordings_result
from ivr.doctor_report import (
    AMI_HOST,
    CALLBACK_CONTEXT,
    CHECKS,
    DOCTOR_CONTEXT,
    INCLUDE_ARI_DIALPLAN,
    INCLUDE_DIALPLAN,
    PROBE_REACH,
    READ_CALL,
    Result,
    failed,
    ok,
    report,
    skipped,
)

CONTEXTS = ("vmbox-settings", "vmbox-leave", "vmbox-check", "vmbox-continue", "vmbox-dial")
CALLBACK = "vmbox-callback"
ARI_CONTEXTS = ("vmbox-ari-leave", "vmbox-ari-check")
PROBE_CONTEXT = "vmbox-doctor"
PROBE_TIMEOUT_S = 30.0  # the probe call: from the Originate to the doctor done looking
EVENT_TIMEOUT_S = 10.0  # an OriginateResponse, once the call it answers has ended


def run(settings: Settings) -> int:
    """Check everything, print one line per check and a summary; the exit status."""
    try:
        results = asyncio.run(examine(settings))
    except (OSError, TimeoutError, AmiRefused, AriError) as exc:  # Asterisk went away mid-check
        print(f"vmbox doctor: stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    lines, status = report(results)
    print("\n".join(lines), flush=True)
    return status


async def examine(settings: Settings) -> dict[str, Result]:
    """Every check's Result, by check name."""
    results: dict[str, Result] = {}

    def put(result: Result) -> None:
        results.setdefault(result.check, result)

    async with contextlib.AsyncExitStack() as stack:
        ami, actions = await _ami(settings, put, stack)
        ari = await _ari(settings, put, stack) if settings.ari.url else None
        present = await _dialplan(settings, ami, actions, ari, put)
        if settings.ari.url:
            await _ari_media(settings, ari, put)
            await _read_call(ami, actions, present, settings, put)
        else:
            for check in ("ARI login", "ARI application"):
                put(skipped(check, "not used: [ari] url is empty (calls come over FastAGI)"))
            await _fastagi(settings, ami, actions, present, put, stack)
    for check in CHECKS:
        put(skipped(check, "not checked after the failure above"))
    return results


def _originates(settings: Settings) -> bool:
    """Whether vmbox sends Originate over AMI (callback calls not over ARI)."""
    return bool(settings.ami.host) and not (settings.ari.url and settings.ari.callbacks)


def _wanted(settings: Settings) -> list[tuple[tuple[str, ...], str]]:
    """The contexts Asterisk must have, in groups, each with the README text that adds them."""
    groups = [(CONTEXTS + (CALLBACK,), INCLUDE_DIALPLAN)]
    if settings.ari.url:
        groups.append((ARI_CONTEXTS, INCLUDE_ARI_DIALPLAN))
    if _originates(settings):
        groups.append(((PROBE_CONTEXT,), DOCTOR_CONTEXT))
        if settings.ami.callback_context not in (CALLBACK, PROBE_CONTEXT):
            groups.append(((settings.ami.callback_context,), CALLBACK_CONTEXT))
    return groups


async def _ami(settings: Settings, put: Callable, stack) -> tuple[AmiClient | None, set[str]]:
    if not settings.ami.host:
        if settings.ari.url:
            for check in ("AMI login", "AMI rights", "AMI events"):
                put(skipped(check, "not used: [ami] host is empty (lamps go over ARI)"))
        else:
            put(
                failed(
                    "AMI login",
                    "[ami] host is empty: the doctor looks at Asterisk's side of a FastAGI set-up"
                    " over AMI (vmbox uses it for callback calls and lamps)",
                    AMI_HOST,
                )
            )
        return None, set()
    result, ami = await log_in(settings.ami)
    put(result)
    if ami is None:
        return None, set()
    stack.push_async_callback(ami.close)
    actions = await allowed_actions(ami)
    put(ami_rights(actions, settings.ami.username, _originates(settings)))
    put(lamps(actions))
    return ami, actions


async def _ari(settings: Settings, put: Callable, stack) -> AriDoctor | None:
    ari = AriDoctor(settings.ari)
    stack.push_async_callback(ari.close)
    login = await ari.log_in()
    put(login)
    if not login.passed:
        return None
    put(await ari.application())
    if not settings.ami.host:
        put(await ari.lamps())
    return ari


async def _dialplan(
    settings: Settings, ami: AmiClient | None, actions: set[str], ari, put: Callable
) -> dict[str, bool | None]:
    groups = _wanted(settings)
    names = [name for group, _ in groups for name in group]
    if ami is not None and "Getvar" in actions:
        present = await contexts_present(ami, names)
    elif ari is not None and ari.app:
        present = await ari.contexts_present(names)
    else:
        return {}
    missing = [name for name in names if present[name] is False]
    unknown = [name for name in names if present[name] is None]
    if missing:
        fix = next(fix for group, fix in groups if set(group) & set(missing))
        put(failed("dialplan", f"not in Asterisk's dialplan: {', '.join(missing)}", fix))
    elif unknown:
        put(skipped("dialplan", "not checked: Asterisk has no DIALPLAN_EXISTS() (func_dialplan)"))
    else:
        put(ok("dialplan", f"Asterisk's dialplan has {', '.join(names)}"))
    return present


async def _fastagi(settings, ami, actions, present, put: Callable, stack) -> None:
    """The probe call (ivr/doctor_probe.py) and what it found."""
    later = ("FastAGI", "recordings", "core sounds", "vmbox prompts", "AMI events")
    if ami is None or "Originate" not in actions:
        return
    if False in (present.get(PROBE_CONTEXT), present.get("vmbox-settings")):  # what the probe runs
        return
    probe = Probe(settings.recordings_dir, SOUNDS, prompt_paths(settings))
    stack.push_async_callback(probe.close)
    problem = await probe.listen(settings.agi.host, settings.agi.port, ami.local_address)
    if problem is not None:
        put(problem)
        return
    variables = {"VMBOX_AGI": probe.vmbox_url}
    try:
        ended = await ami.originate(
            f"Local/{probe.extension}@{PROBE_CONTEXT}", PROBE_CONTEXT, "caller", variables
        )
    except AmiRefused as exc:
        for check in later:
            put(skipped(check, f"not checked: Asterisk refused the probe call ({exc})"))
        return
    findings = await probe.findings(ended, PROBE_TIMEOUT_S)
    if findings is None:
        put(_no_probe(probe, ended))
    else:
        _put_findings(settings, probe, findings, put)
    put(await _answered(ended))


def _no_probe(probe: Probe, ended: asyncio.Future) -> Result:
    how = (
        f"it ended with {ended.result().get('Response')} (reason {ended.result().get('Reason')})"
        if ended.done() and not ended.exception()
        else f"nothing within {PROBE_TIMEOUT_S:g} s"
    )
    return failed(
        "FastAGI",
        f"the probe call never reached the doctor at agi://{probe.extension} ({how}): Asterisk's log"
        " says why",
        PROBE_REACH,
    )


def _put_findings(settings: Settings, probe: Probe, findings: Findings, put: Callable) -> None:
    put(fastagi_result(probe, findings))
    if findings.stopped:
        for check in ("recordings", "core sounds", "vmbox prompts"):
            put(skipped(check, f"not checked: the probe call dropped ({findings.stopped})"))
        return
    put(sounds_result(findings.language, findings.missing_sounds))
    put(prompts_result(prompts_dir(settings), findings.unplayable_prompts, by_asterisk=True))
    put(recordings_result(settings.recordings_dir, findings))


async def _answered(ended: asyncio.Future) -> Result:
    """AMI events: the OriginateResponse arrived (read = call, and the eventfilter lets it through)."""
    try:
        await asyncio.wait_for(ended, EVENT_TIMEOUT_S)
    except TimeoutError:
        return failed(
            "AMI events",
            f"no OriginateResponse within {EVENT_TIMEOUT_S:g} s of the call's end: vmbox would not"
            " learn how its callback calls end",
            READ_CALL,
        )
    return ok("AMI events", "Asterisk sends OriginateResponse (read = call)")


async def _read_call(ami, actions, present, settings: Settings, put: Callable) -> None:
    """ARI set-ups with callback calls over AMI: an Originate that hangs up at once, for read = call."""
    if not settings.ami.host:
        return
    if not _originates(settings):
        put(skipped("AMI events", "not used: callback calls go over ARI ([ari] callbacks)"))
        return
    if ami is None or "Originate" not in actions or present.get(PROBE_CONTEXT) is False:
        return
    channel = f"Local/caller@{PROBE_CONTEXT}"
    put(await _answered(await ami.originate(channel, PROBE_CONTEXT, "caller", {})))


async def _ari_media(settings: Settings, ari: AriDoctor | None, put: Callable) -> None:
    over_ari = "not used: vmbox takes calls over ARI ([ari] url is set)"
    put(skipped("FastAGI", over_ari))
    put(skipped("recordings", f"{over_ari}; recordings are fetched over ARI"))
    if ari is not None:
        put(sounds_result(ari.language, await ari.missing_sounds(SOUNDS)))
    put(prompts_readable(settings))
