"""Callback calls over ARI: the `originate` CallbackNotifier uses (ivr/notify/originate.py), carried by
POST /channels with app=<vmbox's application>. The answered call enters the application as
Stasis(<app>,callback,<mailbox>,account=<id>), the same entry the dialplan's [vmbox-callback] gives
FastAGI calls; the AMI context is not used."""

from ivr import channel_vars
from ivr.ari.app import StasisApp
from ivr.ari.client import AriDown, AriError
from ivr.notify.originate import CallNotPlaced, LinkDown


class AriOriginator:
    def __init__(self, app: StasisApp):
        self.app = app

    async def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        timeout_ms: int,
        caller_id: str,
        variables: dict[str, str],
    ) -> int:
        """Call `channel`; answered, it lands in check messages for mailbox `exten`. Returns AMI's reason.
        Raises LinkDown (no websocket, Asterisk unreachable), CallNotPlaced (refused)."""
        arguments = ["callback", exten]
        if variables.get(channel_vars.ACCOUNT):
            arguments.append(f"account={variables[channel_vars.ACCOUNT]}")
        try:
            return await self.app.originate(
                channel, arguments, max(1, timeout_ms // 1000), caller_id
            )
        except AriDown as exc:
            raise LinkDown(str(exc)) from None
        except AriError as exc:
            if not self.app.up.is_set():
                raise LinkDown(str(exc)) from None
            raise CallNotPlaced(str(exc)) from None
