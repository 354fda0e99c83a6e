"""The simulated channel and what GET VARIABLE can read from it (pure)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    name: str  # e.g. PJSIP/1001-00000001
    uniqueid: str
    caller_number: str = ""
    caller_name: str = ""
    context: str = "vmbox"
    extension: str = "s"


def lookup(channel: Channel, variables: dict[str, str], name: str) -> tuple[str | None, str]:
    """GET VARIABLE's view: (value or None when unset, a problem to report or ""). Channel variables
    first, then the builtins CHANNEL, UNIQUEID, CONTEXT, EXTEN; of dialplan functions (names ending in
    `)`), only CALLERID(num|name|all) is known to the simulator."""
    if name.endswith(")"):
        function, _, argument = name[:-1].partition("(")
        caller_id = {
            "num": channel.caller_number,
            "name": channel.caller_name,
            "all": f'"{channel.caller_name}" <{channel.caller_number}>',
        }
        if function.upper() == "CALLERID" and argument.lower() in caller_id:
            return caller_id[argument.lower()], ""
        return (
            None,
            f"GET VARIABLE {name}: the simulator knows only CALLERID(num|name|all) among functions",
        )
    builtin = {
        "CHANNEL": channel.name,
        "UNIQUEID": channel.uniqueid,
        "CONTEXT": channel.context,
        "EXTEN": channel.extension,
    }
    return variables.get(name, builtin.get(name)), ""
