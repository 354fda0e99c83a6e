"""PINs as keyed hashes: HMAC-SHA-256 under the key file `pin.key` beside the database, created 0600 on
first use and refused when others may read it; legacy scrypt hashes and hashes under an older key
replaced at the next successful check (never at a failed one); key rotation.

Store level: a real store in tmp_path (data directory tmp_path/data). The cost of a check is shown by
the work it does (no scrypt once a PIN is migrated); its time is recorded as a test property, never
asserted.
"""

import asyncio
import hashlib
import os
import re
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ivr.flow.actions import CheckPin
from ivr.flow.events import PinChecked
from ivr.flow.model import CallInfo, Purpose
from ivr.serve import check_pin_keys
from ivr.services import CallServices
from store.core import open_store
from store.hashing import PinKeyError
from store.vmboxes import check_pin, create_vmbox, get_vmbox, patch_vmbox, pin_hash_counts

KEYED_HASH = re.compile(r"hmac-sha256\$([A-Za-z0-9_.-]+)\$([0-9a-f]{32})\$([0-9a-f]{64})")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "pin.key"


@pytest.fixture
def scrypt_calls(monkeypatch) -> list[int]:
    """hashlib.scrypt, counted: one entry per call."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    return calls


async def new_box(store, account: str, mailbox: str = "3000", pin: str | None = "1234") -> str:
    document = {"name": f"Box {mailbox}", "mailbox": mailbox}
    if pin is not None:
        document["pin"] = pin
    return (await create_vmbox(store.db, account, document)).id


async def stored_hash(store, box_id: str) -> str:
    return (await store.db.fetch_one("SELECT pin_hash FROM vmboxes WHERE id = ?", (box_id,)))[0]


async def set_stored_hash(store, box_id: str, pin_hash: str) -> None:
    async with store.db.transaction() as tx:
        await tx.execute("UPDATE vmboxes SET pin_hash = ? WHERE id = ?", (pin_hash, box_id))


def scrypt_hash(pin: str) -> str:
    """A PIN hash as vmbox stored them before keyed hashes (`scrypt$N$r$p$salt$hash`), made here
    independently of vmbox's code."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"


def key_ids(key_file: Path) -> list[str]:
    return [
        line.split()[0]
        for line in key_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def rotate(key_file: Path, new_id: str) -> None:
    """The rotation the README describes: a new key line first, the old ones kept below it."""
    text = f"{new_id} {secrets.token_hex(32)}\n" + key_file.read_text()
    fresh = key_file.with_name("pin.key.new")
    fresh.write_text(text)
    fresh.chmod(0o600)
    fresh.replace(key_file)


# Keyed hashes.


async def test_a_pin_is_stored_as_a_keyed_hash_and_checks_round_trip(store, account, key_file):
    box = await new_box(store, account)
    match = KEYED_HASH.fullmatch(await stored_hash(store, box))
    assert match, await stored_hash(store, box)
    assert match[1] == key_ids(key_file)[0]
    assert await check_pin(store.db, box, "1234")
    assert not await check_pin(store.db, box, "1235")
    assert not await check_pin(store.db, box, "")


async def test_the_same_pin_hashes_differently_in_two_boxes(store, account):
    first, second = await new_box(store, account, "3000"), await new_box(store, account, "3001")
    assert await stored_hash(store, first) != await stored_hash(store, second)
    assert await check_pin(store.db, first, "1234") and await check_pin(store.db, second, "1234")


async def test_the_hash_needs_the_key_not_only_the_database(store, account, key_file):
    """The same database under another key verifies nothing: the hashes alone are useless."""
    box = await new_box(store, account)
    key_file.write_text(f"{key_ids(key_file)[0]} {secrets.token_hex(32)}\n")  # same id, other key
    assert not await check_pin(store.db, box, "1234")


async def test_a_box_without_a_pin_never_matches(store, account):
    box = await new_box(store, account, pin=None)
    assert not await check_pin(store.db, box, "")
    assert not await check_pin(store.db, box, "1234")


async def test_a_pin_check_runs_no_scrypt_and_takes_microseconds(
    store, account, scrypt_calls, record_property
):
    box = await new_box(store, account)
    checks = 1000
    started = time.perf_counter()
    results = [await check_pin(store.db, box, "1234") for _ in range(checks)]
    record_property("pin_check_us", round(1e6 * (time.perf_counter() - started) / checks, 1))
    assert all(results)
    assert scrypt_calls == []


# The key file.


async def test_the_key_file_is_created_0600_in_the_data_directory_on_first_use(
    store, account, key_file
):
    previous = os.umask(0)  # the most permissive umask must not widen it
    try:
        assert not key_file.exists()
        await new_box(store, account)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    [key_id] = key_ids(key_file)
    assert [name for name in os.listdir(key_file.parent) if "pin.key" in name] == ["pin.key"]
    assert (
        KEYED_HASH.fullmatch(await stored_hash(store, await new_box(store, account, "3001")))[1]
        == key_id
    )


async def test_the_key_file_is_reused_by_a_store_opened_again(
    store, account, key_file, tmp_path, store_url
):
    box = await new_box(store, account)
    content = key_file.read_bytes()
    reopened = await open_store(tmp_path / "data", retention_days=93, url=store_url)
    try:
        assert await check_pin(reopened.db, box, "1234")
        second = (
            await create_vmbox(
                reopened.db, account, {"name": "B", "mailbox": "3001", "pin": "9999"}
            )
        ).id
        assert await check_pin(store.db, second, "9999")
    finally:
        await reopened.db.close()
    assert key_file.read_bytes() == content


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
async def test_a_key_file_others_may_read_is_refused(store, account, key_file, mode):
    box = await new_box(store, account)
    key_file.chmod(mode)
    with pytest.raises(PinKeyError, match=rf"{re.escape(str(key_file))}.*{mode:04o}.*chmod 600"):
        await check_pin(store.db, box, "1234")
    with pytest.raises(PinKeyError):
        await create_vmbox(store.db, account, {"name": "B", "mailbox": "3001", "pin": "1234"})
    with pytest.raises(PinKeyError):
        await check_pin_keys(store)  # what `vmbox serve` runs before it takes calls
    key_file.chmod(0o600)
    assert await check_pin(store.db, box, "1234")


@pytest.mark.parametrize(
    "content, problem",
    [
        ("", "holds no key"),
        ("# only a comment\n", "holds no key"),
        ("k1\n", "line 1"),
        ("k1 not-hex\n", "line 1"),
        (f"k1 {'ab' * 16}\nk1 {'cd' * 32}\n", "line 2"),  # an id twice
        (f"k$1 {'ab' * 32}\n", "line 1"),  # `$` would break the stored hash
        (f"k1 {'ab' * 15}\n", "line 1"),  # shorter than 16 bytes
    ],
)
async def test_a_malformed_key_file_is_refused(store, account, key_file, content, problem):
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(content)
    key_file.chmod(0o600)
    with pytest.raises(PinKeyError, match=problem):
        await new_box(store, account)


async def test_a_key_file_that_cannot_be_read_is_refused(store, account, key_file):
    key_file.mkdir(parents=True)  # not a file at all
    with pytest.raises(PinKeyError, match="not a regular file"):
        await new_box(store, account)


async def test_a_lost_key_file_is_refused_not_silently_replaced(store, account, key_file):
    box = await new_box(store, account)
    key_file.unlink()
    with pytest.raises(PinKeyError, match="missing.*restore it"):
        await check_pin(store.db, box, "1234")
    with pytest.raises(PinKeyError, match="missing"):
        await check_pin_keys(store)
    assert not key_file.exists()


async def test_serve_creates_the_key_before_any_call_and_logs_which_keys_pins_use(
    store, account, key_file, caplog
):
    caplog.set_level("INFO", logger="ivr.serve")
    await check_pin_keys(store)
    [key_id] = key_ids(key_file)
    assert f"new PINs use key {key_id}; stored PINs by key: none" in caplog.text
    await new_box(store, account)
    await check_pin_keys(store)
    assert f"stored PINs by key: {key_id} 1" in caplog.text


# Legacy scrypt hashes.


async def test_an_scrypt_hash_is_replaced_at_the_next_successful_check_only(
    store, account, key_file, scrypt_calls
):
    box = await new_box(store, account, pin=None)
    legacy = scrypt_hash("2468")
    await set_stored_hash(store, box, legacy)
    rev = (await get_vmbox(store.db, account, box)).rev
    scrypt_calls.clear()
    assert not key_file.exists()  # a store from before keyed hashes: no key yet

    assert not await check_pin(store.db, box, "1357")
    assert await stored_hash(store, box) == legacy  # a wrong PIN changes nothing
    assert len(scrypt_calls) == 1

    assert await check_pin(store.db, box, "2468")
    assert len(scrypt_calls) == 2
    migrated = await stored_hash(store, box)
    assert KEYED_HASH.fullmatch(migrated)[1] == key_ids(key_file)[0]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (await get_vmbox(store.db, account, box)).rev == rev  # the PIN itself did not change

    assert await check_pin(store.db, box, "2468")
    assert not await check_pin(store.db, box, "1357")
    assert len(scrypt_calls) == 2  # no scrypt once migrated
    assert await pin_hash_counts(store.db) == {key_ids(key_file)[0]: 1}


async def test_a_pin_changed_during_a_migrating_check_is_not_overwritten(store, account):
    """The replacement is written only if the stored hash is still the one checked."""
    box = await new_box(store, account, pin=None)
    await set_stored_hash(store, box, scrypt_hash("2468"))
    # The check reads the scrypt hash, then waits for scrypt on a thread while the new PIN lands.
    checking = asyncio.create_task(check_pin(store.db, box, "2468"))
    await patch_vmbox(store.db, account, box, {"pin": "1111"})
    assert await checking  # the PIN it read was right
    assert await check_pin(store.db, box, "1111")
    assert not await check_pin(store.db, box, "2468")


# Rotation.


async def test_after_rotation_new_pins_use_the_new_key_and_old_hashes_still_verify(
    store, account, key_file
):
    before = await new_box(store, account, "3000")
    [old_id] = key_ids(key_file)
    rotate(key_file, "k2")
    after = await new_box(store, account, "3001")
    assert KEYED_HASH.fullmatch(await stored_hash(store, after))[1] == "k2"
    assert KEYED_HASH.fullmatch(await stored_hash(store, before))[1] == old_id
    assert await check_pin(store.db, after, "1234")
    assert await pin_hash_counts(store.db) == {old_id: 1, "k2": 1}

    old_hash = await stored_hash(store, before)
    assert not await check_pin(store.db, before, "4321")
    assert await stored_hash(store, before) == old_hash  # a wrong PIN changes nothing
    assert await check_pin(store.db, before, "1234")
    assert KEYED_HASH.fullmatch(await stored_hash(store, before))[1] == "k2"
    assert await pin_hash_counts(store.db) == {"k2": 2}


async def test_once_the_old_key_is_removed_its_hashes_fail_with_a_clear_error(
    store, account, key_file
):
    box = await new_box(store, account)
    [old_id] = key_ids(key_file)
    rotate(key_file, "k2")
    lines = key_file.read_text().splitlines()
    key_file.write_text("\n".join(line for line in lines if not line.startswith(old_id)) + "\n")
    with pytest.raises(PinKeyError, match=f"key {old_id!r}.*no longer holds.*new PIN"):
        await check_pin(store.db, box, "1234")
    await patch_vmbox(store.db, account, box, {"pin": "5678"})  # the way out: a new PIN
    assert await check_pin(store.db, box, "5678")


# The phone's side.


def call_info(account: str) -> CallInfo:
    return CallInfo(call_id="call-1", purpose=Purpose.CHECK, account_id=account)


async def failures(store) -> int:
    return (await store.db.fetch_one("SELECT count(*) FROM login_failures"))[0]


async def test_a_phone_login_migrates_an_scrypt_pin(store, account, scrypt_calls):
    box = await new_box(store, account, pin=None)
    await set_stored_hash(store, box, scrypt_hash("2468"))
    services = CallServices(store)
    assert await services.run(call_info(account), CheckPin(box, "2468")) == PinChecked(True)
    assert KEYED_HASH.fullmatch(await stored_hash(store, box))
    scrypt_calls.clear()
    assert await services.run(call_info(account), CheckPin(box, "2468")) == PinChecked(True)
    assert scrypt_calls == []


async def test_an_unusable_key_file_fails_the_login_without_counting_a_failure(
    store, account, key_file, caplog
):
    box = await new_box(store, account)
    key_file.chmod(0o644)
    services = CallServices(store)
    assert await services.run(call_info(account), CheckPin(box, "1234")) == PinChecked(False)
    assert "call call-1: CheckPin failed" in caplog.text and "chmod 600" in caplog.text
    assert await failures(store) == 0  # not the caller's fault: no step towards a lockout


def test_vmbox_serve_refuses_to_start_with_a_key_file_others_may_read(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    key_file = data_dir / "pin.key"
    key_file.write_text(f"k1 {secrets.token_hex(32)}\n")
    key_file.chmod(0o644)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("VMBOX_")}
    environment |= {
        "VMBOX_STORE_DATA_DIR": str(data_dir),
        "VMBOX_API_PORT": "0",
        "VMBOX_AGI_PORT": "0",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "ivr.cli", "serve"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,  # a server that starts anyway runs until this ends it: the test fails
    )
    assert finished.returncode == 1
    assert f"the PIN key file {key_file} may be read by others (mode 0644)" in finished.stderr
    assert "REST API on" not in finished.stderr


async def test_a_phone_login_with_a_keyed_pin_writes_nothing_unless_failures_are_to_forget(
    store, account, scrypt_calls
):
    box = await new_box(store, account)
    services, commits = CallServices(store), []
    store.db.on_commit(lambda: commits.append("commit"))
    assert await services.run(call_info(account), CheckPin(box, "1234")) == PinChecked(True)
    assert commits == [] and scrypt_calls == []  # an indexed read or two and an HMAC: no write

    assert await services.run(call_info(account), CheckPin(box, "0000")) == PinChecked(False)
    assert (commits, await failures(store)) == (["commit"], 1)
    assert await services.run(call_info(account), CheckPin(box, "1234")) == PinChecked(True)
    assert (commits, await failures(store)) == (["commit"] * 2, 0)  # the failure is forgotten


async def test_the_key_file_may_be_a_link_to_a_key_kept_elsewhere(
    store, account, key_file, tmp_path
):
    elsewhere = tmp_path / "secrets" / "vmbox-pin.key"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f"k9 {secrets.token_hex(32)}\n")
    elsewhere.chmod(0o600)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.symlink_to(elsewhere)
    box = await new_box(store, account)
    assert KEYED_HASH.fullmatch(await stored_hash(store, box))[1] == "k9"
    elsewhere.chmod(0o644)  # the rule is the key's, wherever it lives
    with pytest.raises(PinKeyError, match="may be read by others"):
        await check_pin(store.db, box, "1234")
    elsewhere.unlink()  # a link left pointing at nothing is a lost key, not a place for a new one
    with pytest.raises(PinKeyError, match="is missing.*restore it"):
        await check_pin(store.db, box, "1234")
    assert not elsewhere.exists()


async def test_a_link_to_a_missing_key_is_refused_even_before_any_pin(store, account, key_file):
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.symlink_to(key_file.parent / "nowhere.key")
    with pytest.raises(PinKeyError, match="link to a missing file"):
        await new_box(store, account)
