"""`vmbox doctor` over AMI: a small client that shows Asterisk's answers as they are, and the checks
made with it, as vmbox's [ami] user and with nothing that user lacks.

The client (ivr/ami_client.py) is not vmbox's AmiLink (ivr/notify/ami.py): the doctor needs the answers
AmiLink turns into retries, such as why a login was refused and which actions the user may send.

What each check asks, and the right it needs:
- Login (any user), `Events: call` as vmbox logs in;
- ListCommands (any user): the actions the user may send. Originate is there with write = originate;
  Setvar (core, a `call` action) with write = call; MWIUpdate and MWIDelete only when
  res_mwi_external_ami is loaded too; VoicemailUsersList when app_voicemail is loaded;
- Getvar of DIALPLAN_EXISTS(<context>) (write = call): whether a context is in the dialplan;
- Originate into a context (write = originate) and its OriginateResponse event (read = call).
"""

from ivr.ami_client import AmiClient, AmiRefused
from ivr.config import AmiSettings
from ivr.doctor_report import (
    AMI_ENABLED,
    AMI_SECRET,
    LOAD_MWI_AMI,
    NOLOAD_VOICEMAIL,
    WRITE_CALL,
    WRITE_ORIGINATE,
    Result,
    failed,
    ok,
    skipped,
)


async def log_in(settings: AmiSettings) -> tuple[Result, AmiClient | None]:
    """Log in as vmbox does; the result and, when logged in, the connection."""
    where = f"{settings.host}:{settings.port}"
    ami = AmiClient("doctor")
    try:
        await ami.connect(settings.host, settings.port)
        await ami.log_in(settings.username, settings.secret, events="call")
    except AmiRefused as exc:
        await ami.close()
        return failed(
            "AMI login",
            f"Asterisk at {where} refused the login as {settings.username!r} ({exc}): the secret"
            " differs from manager_vmbox.conf's, or the user's permit leaves this host out",
            AMI_SECRET,
        ), None
    except (OSError, TimeoutError) as exc:
        await ami.close()
        reason = str(exc) or type(exc).__name__
        return failed(
            "AMI login", f"cannot reach Asterisk's AMI at {where} ({reason})", AMI_ENABLED
        ), None
    return ok("AMI login", f"logged in to {where} as {settings.username!r}"), ami


async def allowed_actions(ami: AmiClient) -> set[str]:
    """The actions the logged-in user may send (ListCommands)."""
    listed = await ami.action("ListCommands")
    return {name for name in listed if name not in ("Response", "ActionID", "Message")}


def rights(actions: set[str], username: str, originate: bool) -> Result:
    """Whether the user may send what vmbox sends: Originate (when `originate`), and call actions."""
    if originate and "Originate" not in actions:
        return failed(
            "AMI rights",
            f"{username!r} may not send Originate (callback calls, the doctor's probe call)",
            WRITE_ORIGINATE,
        )
    if "Setvar" not in actions:
        return failed(
            "AMI rights",
            f"{username!r} may not send call actions (MWIUpdate and MWIDelete for the lamps)",
            WRITE_CALL,
        )
    sent = "Originate (write = originate) and " if originate else ""
    return ok("AMI rights", f"{username!r} may send {sent}call actions (write = call)")


def lamps(actions: set[str]) -> Result:
    """Whether Asterisk takes lamps over AMI: res_mwi_external_ami's actions, no app_voicemail."""
    if "Setvar" not in actions:
        return skipped("lamps", "not checked: the AMI user may not send call actions")
    if {"MWIUpdate", "MWIDelete"} <= actions:
        return ok("lamps", "Asterisk takes MWIUpdate and MWIDelete (res_mwi_external_ami)")
    if "VoicemailUsersList" in actions:
        return failed(
            "lamps",
            "app_voicemail is loaded, so res_mwi_external cannot be: AMI has no MWIUpdate",
            NOLOAD_VOICEMAIL,
        )
    return failed(
        "lamps",
        "AMI has no MWIUpdate or MWIDelete: res_mwi_external_ami is not loaded",
        LOAD_MWI_AMI,
    )


async def contexts_present(ami: AmiClient, names: list[str]) -> dict[str, bool | None]:
    """For each context: in the dialplan (True), not (False), or unknown (None: no DIALPLAN_EXISTS)."""
    present = {}
    for name in names:
        value = (await ami.action("Getvar", Variable=f"DIALPLAN_EXISTS({name})")).get("Value")
        present[name] = {"1": True, "0": False}.get(value)
    return present
