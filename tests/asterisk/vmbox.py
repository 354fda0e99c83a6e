"""`vmbox serve` beside the real Asterisk, set up for one driver, and what a scenario uses of it.

- fastagi: calls enter vmbox-leave / vmbox-check (asterisk_conf/extensions_vmbox.conf) with VMBOX_AGI
  pointing at this vmbox; callback calls and lamps go over AMI (the shipped manager_vmbox.conf user).
- ari: calls enter vmbox-ari-leave / vmbox-ari-check with VMBOX_ARI_APP naming this vmbox's Stasis
  application; callback calls and lamps go over ARI (the shipped ari_vmbox.conf user), no AMI at all.
Both dial operators and call-back numbers through the harness's test-dial context and place callback
calls to test-phone, so a test sees where each call went.
"""

import itertools
import re
from pathlib import Path

import aiohttp

from tests.asterisk.config import AMI_SECRET
from tests.asterisk.phone import Phone, Switchboard
from tests.asterisk.server import Asterisk
from tests.conftest import ApiClient
from tests.servekit import Serve

DRIVERS = ("fastagi", "ari")
REGISTERED = re.compile(r"ARI: application '([^']+)' registered|AMI connected to")
ENTRIES = {  # (context, extension) per driver; {mailbox} filled in
    "fastagi": {
        "leave": ("vmbox-leave", "{mailbox}"),
        "check": ("vmbox-check", "*98{mailbox}"),
        "own": ("vmbox-check", "*97"),
        "login": ("vmbox-check", "*98"),
    },
    "ari": {
        "leave": ("vmbox-ari-leave", "{mailbox}"),
        "check": ("vmbox-ari-check", "*98{mailbox}"),
        "own": ("vmbox-ari-check", "*97"),
        "login": ("vmbox-ari-check", "*98"),
    },
}
_apps = itertools.count(1)


def settings(driver: str, asterisk: Asterisk, app: str) -> dict[str, str]:
    """vmbox's settings (VMBOX_* variables) for `driver` against `asterisk`."""
    # Forwards offer KAZOO's prepend menu, so both kinds of forward run on the real Asterisk.
    common = {"VMBOX_IVR_LOCKOUT_FAILURES": "5", "VMBOX_IVR_FORWARD_TYPE": "prepend_forward"}
    if driver == "fastagi":
        return common | {
            "VMBOX_AMI_HOST": "127.0.0.1",
            "VMBOX_AMI_PORT": str(asterisk.ami_port),
            "VMBOX_AMI_SECRET": AMI_SECRET,
            "VMBOX_AMI_CALLBACK_CHANNEL": "Local/{number}@test-phone",
            "VMBOX_AMI_CALLBACK_CONTEXT": "test-callback",
        }
    return common | {
        "VMBOX_ARI_URL": asterisk.ari_url,
        "VMBOX_ARI_PASSWORD": asterisk.ari_password,
        "VMBOX_ARI_APP": app,
        "VMBOX_ARI_MEDIA_PORT": "0",
        "VMBOX_ARI_CALLBACKS": "true",
        "VMBOX_ARI_CALLBACK_ENDPOINT": "Local/{number}@test-phone",
        # Both vmboxes have the same mailbox numbers (scenarios hear the same digits on both): their
        # lamps must not share Asterisk's mailbox names.
        "VMBOX_AMI_MWI_CONTEXT": "vmbox-ari",
    }


class Vmbox:
    """One `vmbox serve` for one driver, its API client, and how calls reach it."""

    def __init__(
        self,
        driver: str,
        asterisk: Asterisk,
        switchboard: Switchboard,
        directory: Path,
        store_url: str | None = None,
    ):
        self.driver = driver
        self.asterisk = asterisk
        self.switchboard = switchboard
        self.app = f"vmbox-test-{next(_apps)}"
        more = {"VMBOX_STORE_URL": store_url} if store_url else {}
        self.serve = Serve(directory / "data", settings(driver, asterisk, self.app) | more)
        self.session: aiohttp.ClientSession | None = None
        self.api: ApiClient | None = None

    async def start(self) -> "Vmbox":
        """Start it and wait until Asterisk can reach it (AMI logged in, or the application registered)."""
        await self.serve.start()
        await self.serve.until_printed(REGISTERED)
        self.session = aiohttp.ClientSession()
        self.api = await self.serve.api(self.session)
        if self.driver == "fastagi":  # for test-callback (config.py)
            await self.asterisk.ami.action(
                "Setvar",
                Variable=f"TEST_AGI_{self.api.account_id}",
                Value=self.variables["VMBOX_AGI"],
            )
        return self

    async def stop(self, signum: int | None = None) -> int:
        """Stop vmbox serve (SIGTERM unless `signum`); its exit status. start() starts it again on the
        same data (FastAGI and the API then listen on new ports)."""
        if self.session is not None:
            await self.session.close()
            self.session = None
        return await (self.serve.stop(signum) if signum else self.serve.stop())

    @property
    def variables(self) -> dict[str, str]:
        """What the calling dialplan sets so that vmbox's contexts reach this vmbox."""
        reach = (
            {"VMBOX_AGI": f"agi://127.0.0.1:{self.serve.agi_address[1]}"}
            if self.driver == "fastagi"
            else {"VMBOX_ARI_APP": self.app}
        )
        return reach | {"VMBOX_DIAL_CONTEXT": "test-dial"}

    async def call(self, entry: str, mailbox: str = "", caller_id: str = '"Alice" <1001>') -> Phone:
        """A call into vmbox's `entry` (leave, check, own, login) for `mailbox`; the caller's Phone."""
        context, extension = ENTRIES[self.driver][entry]
        return await self.switchboard.call(
            context,
            extension.format(mailbox=mailbox),
            caller_id=caller_id,
            variables=self.variables,
        )
