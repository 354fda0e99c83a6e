"""`vmbox doctor` over ARI, as vmbox's [ari] user (ari_vmbox.conf: read_only = no, as vmbox needs):

- GET /asterisk/info: the login works, and Asterisk's default language;
- GET /applications/<app>: vmbox's Stasis application is registered (by a running vmbox serve); when it
  is not, the doctor registers it itself (opens the events websocket, as vmbox does), else it registers
  an application of its own, `<app>-doctor`;
- GET /asterisk/modules/<module>: the lamps' modules, and no app_voicemail;
- GET /sounds/<sound>: the core sounds vmbox plays, in Asterisk's default language;
- contexts: ARI reads no dialplan function without a channel (GET /asterisk/variable reads plain global
  variables only), so the doctor creates a channel in its application (POST /channels/create, never
  dialled: no dialplan runs), reads DIALPLAN_EXISTS(<context>) on it, and hangs it up.
"""

import asyncio
import contextlib
from urllib.parse import quote

from ivr.ari.client import AriClient, AriDown, AriError
from ivr.config import AriSettings
from ivr.doctor_report import (
    ARI_APPLICATION,
    ARI_HTTP,
    ARI_PASSWORD,
    LOAD_ARI_MAILBOXES,
    LOAD_MWI,
    NOLOAD_VOICEMAIL,
    Result,
    failed,
    ok,
)

REGISTER_TIMEOUT_S = 10.0
LAMP_MODULES = ("res_mwi_external.so", "res_ari_mailboxes.so")


class AriDoctor:
    """The doctor's ARI side: `log_in` first, then `application`, then the rest."""

    def __init__(self, settings: AriSettings):
        self.settings = settings
        self.client = AriClient(settings.url, settings.username, settings.password, settings.app)
        self.language = ""  # Asterisk's default language, once logged in
        self.app = ""  # the application the doctor registered, once it has
        self._session: AriClient | None = None
        self._events: asyncio.Task | None = None

    async def log_in(self) -> Result:
        """GET /asterisk/info with vmbox's user and password."""
        url, user = self.settings.url, self.settings.username
        try:
            info = await self.client.request("GET", "/asterisk/info")
        except AriDown as exc:
            return failed("ARI login", f"cannot reach Asterisk's ARI at {url} ({exc})", ARI_HTTP)
        except AriError as exc:
            if exc.status == 401:
                return failed(
                    "ARI login",
                    f"Asterisk at {url} refused the login as {user!r} (401): the password differs"
                    " from ari_vmbox.conf's, or the user is not there",
                    ARI_PASSWORD,
                )
            return failed("ARI login", f"Asterisk at {url} answered {exc}", ARI_HTTP)
        self.language = info.get("config", {}).get("default_language", "")
        version = info.get("system", {}).get("version", "?")
        return ok("ARI login", f"logged in to {url} as {user!r} (Asterisk {version})")

    async def application(self) -> Result:
        """vmbox's application registered by vmbox serve, or registering when the doctor opens it."""
        app = self.settings.app
        try:
            await self.client.request("GET", f"/applications/{quote(app, safe='')}")
            serving = True
        except AriError as exc:
            if exc.status != 404:
                return failed("ARI application", f"GET /applications/{app}: {exc}", ARI_APPLICATION)
            serving = False
        own = f"{app}-doctor" if serving else app
        if not await self._register(own):
            return failed(
                "ARI application",
                f"the events websocket for the application {own!r} did not open within"
                f" {REGISTER_TIMEOUT_S:g} s",
                ARI_APPLICATION,
            )
        if serving:
            return ok("ARI application", f"{app!r} is registered (vmbox serve is running)")
        return ok(
            "ARI application",
            f"{app!r} registers (vmbox serve is not running: until it is, calls to Stasis({app})"
            " fail with STASISSTATUS=FAILED)",
        )

    async def _register(self, app: str) -> bool:
        self._session = AriClient(
            self.settings.url, self.settings.username, self.settings.password, app
        )
        up = asyncio.Event()
        self._events = asyncio.create_task(self._session.run(lambda event: None, up.set, _nothing))
        try:
            await asyncio.wait_for(up.wait(), REGISTER_TIMEOUT_S)
        except TimeoutError:
            return False
        self.app = app
        return True

    async def lamps(self) -> Result:
        """Lamps over ARI: res_mwi_external and res_ari_mailboxes loaded, app_voicemail not."""
        if await self._loaded("app_voicemail.so"):
            return failed(
                "lamps",
                "app_voicemail.so is loaded, so res_mwi_external.so cannot be",
                NOLOAD_VOICEMAIL,
            )
        for module, fix in zip(LAMP_MODULES, (LOAD_MWI, LOAD_ARI_MAILBOXES), strict=True):
            if not await self._loaded(module):
                return failed("lamps", f"{module} is not loaded", fix)
        return ok("lamps", f"{' and '.join(LAMP_MODULES)} are loaded, app_voicemail.so is not")

    async def _loaded(self, module: str) -> bool:
        try:
            found = await self.client.request("GET", f"/asterisk/modules/{module}")
        except AriError as exc:
            if exc.status == 404:
                return False
            raise
        return found.get("status") == "Running"

    async def contexts_present(self, names: list[str]) -> dict[str, bool | None]:
        """For each context: in the dialplan (True), not (False), or unknown (None). Needs `app`."""
        channel = await self.client.request(
            "POST", "/channels/create", endpoint="Local/doctor@vmbox-doctor", app=self.app
        )
        try:
            present = {}
            for name in names:
                value = await self.client.request(
                    "GET",
                    f"/channels/{channel['id']}/variable",
                    variable=f"DIALPLAN_EXISTS({name})",
                )
                present[name] = {"1": True, "0": False}.get(value.get("value"))
            return present
        finally:
            with contextlib.suppress(AriError):
                await self.client.request("DELETE", f"/channels/{channel['id']}")

    async def missing_sounds(self, sounds: list[str]) -> list[str]:
        """The `sounds` Asterisk does not have in its default language."""
        missing = []
        for sound in sounds:
            try:
                found = await self.client.request("GET", f"/sounds/{quote(sound, safe='')}")
            except AriError as exc:
                if exc.status != 404:
                    raise
                found = {}
            if self.language not in {item["language"] for item in found.get("formats", [])}:
                missing.append(sound)
        return missing

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._events is not None:
            await asyncio.gather(self._events, return_exceptions=True)
        await self.client.close()


def _nothing() -> None:
    pass
