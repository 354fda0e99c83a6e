"""Placing a callback call, whatever carries it: AMI Originate (ivr/notify/ami.py AmiLink) or ARI
POST /channels (ivr/ari/callbacks.py). CallbackNotifier runs the series over either; both have

    async def originate(channel, context, exten, timeout_ms, caller_id, variables) -> int

returning AMI's OriginateResponse reason (4 answered, 3 no answer, 5 busy, 8 congestion, 0/1 failed)
and raising the errors below."""


class CallNotPlaced(Exception):
    """Asterisk refused the call, or answered in a way vmbox cannot use: retry with backoff."""


class LinkDown(CallNotPlaced):
    """No connection to Asterisk now (or it dropped while the call rang): try again once it is back."""
