"""Settings: defaults, then a TOML file, then `VMBOX_<SECTION>_<KEY>` environment variables.

Every key of every section below can be set either way, e.g. `[api] port = 8080` in vmbox.toml or
`VMBOX_API_PORT=8080`. Unknown keys are refused, so a typo cannot silently keep a default.
"""

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flow.model import Keys, Limits
from store.api.proxies import parse_networks
from store.core import database_path, without_password
from store.encodings import DEFAULT_LIMIT_MB
from store.timezones import DEFAULT_TIMEZONE, known

DEFAULT_FILE = Path("vmbox.toml")


class ConfigError(Exception):
    """A setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class StoreSettings:
    """Where the store lives. The PIN key (store/hashing.py) is the file `pin.key` in `data_dir`,
    created 0600 on first use, and on purpose not a setting: the store finds it from the database it
    is handed, so every path that hashes or checks a PIN (the REST API, the phone, `vmbox` commands,
    a second process on the same data) uses the same key without being given it, and no setting can
    point two of them at different keys. To keep the key elsewhere (off the volume that is backed up
    with the database), make `pin.key` a symbolic link to it: the 0600 rule applies to the target."""

    data_dir: str = "./vmbox-data"  # SQLite database, audio files and the PIN key file pin.key
    # the database: "" (vmbox.sqlite3 in data_dir), sqlite:///<path>, or postgresql://user:password@
    # host:port/database for several nodes on one PostgreSQL (README "Several nodes")
    url: str = ""
    # PostgreSQL: connections per node (and one more for LISTEN); requests beyond them queue
    pool_size: int = 10
    retention_days: int = 93  # older messages are hidden from lists, counts and phones
    cache_mb: int = DEFAULT_LIMIT_MB  # encoded audio (MP3, MP4) kept for downloads and emails
    # the zone of boxes whose own and whose owner's timezone are unset (KAZOO's system default)
    default_timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: int = 50
    token_ttl_s: int = 3600
    # Reverse proxies whose X-Forwarded-For/-Proto are believed: addresses or networks, comma-separated
    # (e.g. "127.0.0.1, 10.0.0.0/8"). Empty: none, the peer is the client.
    trusted_proxies: str = ""
    # HTTPS: a PEM certificate (chain) and its private key; both or neither.
    tls_cert: str = ""
    tls_key: str = ""

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.trusted_proxies.split(",") if part.strip())


@dataclass(frozen=True)
class AgiSettings:
    host: str = "127.0.0.1"
    port: int = 4573
    recordings_dir: str = ""  # where Asterisk's RECORD FILE writes; shared with Asterisk (default <data_dir>/recordings)
    account: str = ""  # the account calls belong to unless the dialplan passes account=<id> (default: the first)
    header_timeout_s: int = 10
    reply_timeout_s: int = 900


FORWARD_TYPES = ("only_forward", "prepend_forward")


@dataclass(frozen=True)
class IvrSettings:
    max_message_count: int = 100  # a box's own max_message_count wins; 0 = unlimited
    lockout_failures: int = 10  # PIN failures across calls within lockout_window_s lock the box ...
    lockout_window_s: int = 900
    lockout_s: int = 900  # ... for this long
    prompts_dir: str = ""  # vmbox's own prompts (default: the installed package's prompts/en)
    # The message menu's callback key calls the sender back (false: "not available", as KAZOO's
    # should_disable_callback).
    callback_enabled: bool = True
    # KAZOO's vm_message_forward_type: only_forward, or prepend_forward (the owner may record a comment
    # played before the forwarded message).
    forward_type: str = "only_forward"

    def __post_init__(self):
        if self.forward_type not in FORWARD_TYPES:
            raise ConfigError(
                f"ivr.forward_type: expected one of {', '.join(FORWARD_TYPES)},"
                f" got {self.forward_type!r}"
            )


@dataclass(frozen=True)
class JobSettings:
    """The notification job queue: retries back off from backoff_base_s, doubling up to backoff_max_s."""

    backoff_base_s: int = 30
    backoff_max_s: int = 3600
    max_attempts: int = 10  # then the job is failed (`vmbox jobs retry` runs it again)
    concurrency: int = 8  # jobs run at the same time
    # several nodes on one PostgreSQL: a job a node runs is its own for this long, renewed while it
    # runs; the job of a node that died is taken over once its lease runs out (README "Several nodes")
    lease_s: int = 60


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""  # empty: no email notifications
    port: int = 25
    security: str = "none"  # none | starttls | tls
    username: str = ""
    password: str = ""
    sender: str = "vmbox@localhost"
    timeout_s: int = 30
    templates_dir: str = ""  # an admin's own templates, by the names of the shipped ones


@dataclass(frozen=True)
class AmiSettings:
    host: str = ""  # empty: no callback calls and no message-waiting lamps (unless over ARI: [ari])
    port: int = 5038
    username: str = "vmbox"
    secret: str = ""
    callback_channel: str = (
        "Local/{number}@vmbox-dial"  # what Originate dials; {number} is the callback number
    )
    callback_context: str = "vmbox-callback"  # answered calls go here, extension = the mailbox
    mwi_context: str = "vmbox"  # lamps are <mailbox>@<mwi_context> (over AMI or ARI)


@dataclass(frozen=True)
class AriSettings:
    """Asterisk's REST interface: calls reach vmbox by Stasis(<app>,leave|check|login|callback,...)."""

    url: str = ""  # empty: no ARI; else Asterisk's HTTP server, e.g. http://127.0.0.1:8088
    username: str = "vmbox"  # an ari.conf user (asterisk_conf/ari_vmbox.conf)
    password: str = ""
    app: str = "vmbox"  # the Stasis application name
    media: str = "http"  # how Asterisk gets vmbox's audio: http (sound:http://… URLs) | shared (a shared directory)
    media_host: str = "127.0.0.1"  # media http: where vmbox serves audio to Asterisk
    media_port: int = 8001
    media_url: str = (
        ""  # that server as Asterisk reaches it (default http://<media_host>:<media_port>)
    )
    media_ttl_s: int = (
        3600  # a call's audio URLs stop working this long after they are made, or when it ends
    )
    callbacks: bool = (
        False  # place callback calls over ARI (POST /channels) instead of AMI Originate
    )
    callback_endpoint: str = (
        "Local/{number}@vmbox-dial"  # what a callback call dials; {number}: who to call
    )


@dataclass(frozen=True)
class TranscriptionSettings:
    engine: str = "null"  # null | pocketsphinx | http
    url: str = ""  # http: base URL of an OpenAI-compatible service (…/v1/audio/transcriptions)
    api_key: str = ""
    model: str = "whisper-1"
    timeout_s: int = 120


@dataclass(frozen=True)
class Settings:
    store: StoreSettings = field(default_factory=StoreSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    limits: Limits = field(default_factory=Limits)  # the call flow's limits and timeouts
    keys: Keys = field(default_factory=Keys)  # phone keys, KAZOO's names and defaults
    jobs: JobSettings = field(default_factory=JobSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    ari: AriSettings = field(default_factory=AriSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)

    @property
    def recordings_dir(self) -> Path:
        return (
            Path(self.agi.recordings_dir).absolute()
            if self.agi.recordings_dir
            else self.data_dir / "recordings"
        )

    @property
    def data_dir(self) -> Path:
        """Absolute: Asterisk resolves relative file names under its own directories, not ours."""
        return Path(self.store.data_dir).absolute()


def _convert(value: object, kind: type, name: str) -> object:
    if kind is bool and isinstance(value, str):
        if value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif kind is int and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    elif isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}")


def _section(cls: type, name: str, table: dict, environ: dict) -> object:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(table) - set(known)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(f'{name}.{key}' for key in sorted(unknown))};"
            f" [{name}] takes: {', '.join(known)}"
        )
    prefix = f"VMBOX_{name}_".upper()
    env_names = [prefix + key.upper() for key in known]
    unknown_env = sorted(key for key in environ if key.startswith(prefix) and key not in env_names)
    if unknown_env:
        raise ConfigError(
            f"unknown environment variable(s) {', '.join(unknown_env)};"
            f" [{name}] takes: {', '.join(env_names)}"
        )
    values = {}
    for key, spec in known.items():
        env_name = f"VMBOX_{name}_{key}".upper()
        if env_name in environ:
            values[key] = _convert(environ[env_name], spec.type, env_name)
        elif key in table:
            values[key] = _convert(table[key], spec.type, f"{name}.{key}")
    return cls(**values)


def load_settings(path: Path | None = None, environ: dict | None = None) -> Settings:
    """Settings from `path` (or $VMBOX_CONFIG, or ./vmbox.toml when present) and the environment."""
    environ = dict(os.environ if environ is None else environ)
    if path is None and environ.get("VMBOX_CONFIG"):
        path = Path(environ["VMBOX_CONFIG"])
    if path is None and DEFAULT_FILE.exists():
        path = DEFAULT_FILE
    document: dict = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    sections = {f.name: f.default_factory for f in dataclasses.fields(Settings)}
    unknown = set(document) - set(sections)
    if unknown:
        raise ConfigError(
            f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(sections)}"
        )
    settings = Settings(
        **{
            name: _section(cls, name, document.get(name, {}), environ)
            for name, cls in sections.items()
        }
    )
    try:
        parse_networks(settings.api.trusted_proxy_list)
    except ValueError as exc:
        raise ConfigError(f"api.trusted_proxies: {exc}") from None
    try:
        database_path(settings.store.url, settings.data_dir)
    except ValueError as exc:
        raise ConfigError(f"store.url: {exc}") from None
    if settings.store.pool_size < 1:
        raise ConfigError("store.pool_size must be 1 or more (connections to PostgreSQL per node)")
    if not known(settings.store.default_timezone):
        raise ConfigError(
            f"store.default_timezone {settings.store.default_timezone!r} is not a time zone this"
            " machine knows: use an IANA name such as America/Los_Angeles or Europe/Paris"
        )
    return settings


_SECRETS = {"password", "secret", "api_key"}


def to_toml(settings: Settings) -> str:
    """The settings as a TOML document (what `vmbox config` prints)."""
    lines = []
    for section in dataclasses.fields(settings):
        lines.append(f"[{section.name}]")
        for key, value in dataclasses.asdict(getattr(settings, section.name)).items():
            if key in _SECRETS and value:
                value = "********"  # `vmbox config` output ends up in tickets and chats
            elif key == "url":
                value = without_password(value)
            shown = str(value).lower() if isinstance(value, bool) else json.dumps(value)
            lines.append(f"{key} = {shown}")
        lines.append("")
    return "\n".join(lines)
