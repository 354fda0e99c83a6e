"""asterisk_conf's ARI files agree with vmbox: every Stasis() entry point reaches the application vmbox
registers with arguments its Stasis application understands, and ari_vmbox.conf defines the user
vmbox logs in as."""

import re

import pytest

from ivr.calls import describe_call, split_arguments
from ivr.config import AriSettings
from ivr.flow.model import Purpose
from tests.test_prompts import ARI_CONF, ROOT, _expand, code, dialplan, settings_defaults

# (context, extension): the code dialled, and what vmbox must make of the Stasis() arguments.
EXPECTED = {
    ("vmbox-ari-leave", "_X."): ("1001", Purpose.LEAVE, "1001", True),
    ("vmbox-ari-check", "*97"): ("*97", Purpose.CHECK, None, True),
    ("vmbox-ari-check", "*98"): ("*98", Purpose.CHECK, None, False),
    ("vmbox-ari-check", "_*98X."): ("*981001", Purpose.CHECK, "1001", True),
}


def stasis_entry_points() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for context, lines in dialplan(ARI_CONF).items():
        key = None
        for line in code(lines):
            exten = re.match(r"exten => ([^,]+),1,", line)
            if exten:
                key = (context, exten[1])
            found.setdefault(key, []).append(line)
    return found


def test_every_context_names_its_parameters():
    for context, lines in dialplan(ARI_CONF).items():
        comment = [line for line in lines if line.startswith(";")]
        assert "Parameters" in " ".join(comment), context


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_each_entry_point_makes_one_stasis_call_that_vmbox_understands(key):
    lines = stasis_entry_points()[key]
    stasis = [line for line in lines if "Stasis(" in line]
    assert len(stasis) == 1 and lines[-1].endswith("Goto(vmbox-continue,s,1)"), lines
    dialled, purpose, mailbox, own_box = EXPECTED[key]
    app, entry, *rest = _expand(
        re.search(r"Stasis\((.*)\)$", stasis[0])[1], {**settings_defaults(), "EXTEN": dialled}
    ).split(",")
    assert app == AriSettings().app
    arguments, parameters = split_arguments(rest)
    info = describe_call("1.1", entry, arguments, parameters, "1001", "Ann", "PJSIP/1001-1")
    assert (info.purpose, info.mailbox, info.find_own_box) == (purpose, mailbox, own_box)


def test_every_entry_point_is_checked():
    assert set(stasis_entry_points()) == set(EXPECTED)


def test_the_ari_user_is_the_one_vmbox_logs_in_as():
    text = (ROOT / "asterisk_conf" / "ari_vmbox.conf").read_text()
    assert f"[{AriSettings().username}]" in text
    section = text.split(f"[{AriSettings().username}]", 1)[1]
    assert re.search(r"^type = user$", section, re.M) and re.search(
        r"^read_only = no$", section, re.M
    )
