"""Prompts and dialplan: every prompt the call flow can say resolves to a real 8 kHz sound, no core prompt
announces app_voicemail's keys, and extensions_vmbox.conf agrees with vmbox (scripts, arguments, variables).

The prompt names are collected from the flow's sources (ast), following variables, parameters, defaults
and f-strings back to their string constants, so a new Prompt() in the flow fails here until the
catalogue knows it. Core sounds come from Debian's asterisk-core-sounds-en-wav (./vmbox.sh test installs it).
"""

import ast
import itertools
import re
import wave
from collections import defaultdict
from pathlib import Path

import pytest

import ivr.flow
from ivr import channel_vars
from ivr.agi.connection import parse_request
from ivr.agi.driver import call_info
from ivr.config import AgiSettings
from ivr.flow.model import Purpose
from ivr.flow.personal import GREETING_KINDS
from prompts.catalogue import PromptCatalogue

ROOT = Path(__file__).resolve().parent.parent
CORE_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
CONF = ROOT / "asterisk_conf" / "extensions_vmbox.conf"
CONF_README = ROOT / "asterisk_conf" / "README.md"
ARI_CONF = ROOT / "asterisk_conf" / "extensions_vmbox_ari.conf"  # the same entry points over ARI
TEXTS = ROOT / "prompts" / "en" / "texts.tsv"

# Core prompts that name app_voicemail's keys or "Comedian Mail": our keys are KAZOO's, so never these.
APP_VOICEMAIL_KEY_PROMPTS = {
    "vm-login",
    "vm-newuser",
    "vm-instructions",
    "vm-msginstruct",
    "vm-options",
    "vm-opts",
    "vm-opts-full",
    "vm-onefor",
    "vm-onefor-full",
    "vm-advopts",
    "vm-helpexit",
    "vm-starmain",
    "vm-repeat",
    "vm-savefolder",
    "vm-forwardoptions",
    "vm-toforward",
    "vm-tocallback",
    "vm-toreply",
    "vm-tohearenv",
    "vm-tomakecall",
    "vm-torerecord",
    "vm-tocancel",
    "vm-tocancelmsg",
    "vm-star-cancel",
    "vm-tempgreeting",
    "vm-tempgreeting2",
    "vm-undelete",
    "vm-incorrect-mailbox",
}


class FlowSources:
    """The flow's modules, with what it takes to trace an expression back to its string constants."""

    def __init__(self, directory: Path):
        self.trees = {
            path.name: ast.parse(path.read_text()) for path in sorted(directory.glob("*.py"))
        }
        self.functions = defaultdict(list)  # name -> its FunctionDefs
        self.calls = defaultdict(list)  # callee name -> Call nodes
        self.owner = {}  # node -> innermost enclosing FunctionDef
        for tree in self.trees.values():
            for node in ast.walk(
                tree
            ):  # breadth first: inner functions overwrite their outer one's claim
                if isinstance(node, ast.FunctionDef):
                    self.functions[node.name].append(node)
                    self.owner.update((child, node) for child in ast.walk(node))
                elif isinstance(node, ast.Call):
                    self.calls[_callee(node)].append(node)

    def prompt_calls(self) -> list[tuple[str, ast.Call]]:
        return [
            (f"{name}:{call.lineno}:{call.col_offset}", call)
            for name, tree in self.trees.items()
            for call in ast.walk(tree)
            if isinstance(call, ast.Call) and _callee(call) == "Prompt"
        ]

    def strings(self, node: ast.AST, seen: set) -> set[str]:
        """Every string `node` can evaluate to, as far as constants tell; empty when they do not."""
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else set()
        if isinstance(node, ast.IfExp):
            return self.strings(node.body, seen) | self.strings(node.orelse, seen)
        if isinstance(node, ast.Dict):
            return set().union(*(self.strings(value, seen) for value in node.values))
        if isinstance(node, ast.Subscript):  # {...}[key] or a name bound to a dict
            return self.strings(node.value, seen)
        if isinstance(node, ast.Name):
            return self.variable(node.id, self.owner.get(node), seen)
        if isinstance(node, ast.JoinedStr):
            parts = [
                self.strings(part.value if isinstance(part, ast.FormattedValue) else part, seen)
                for part in node.values
            ]
            return {"".join(combination) for combination in itertools.product(*parts)}
        return set()  # attributes, calls: traced through the other paths that feed them

    def variable(self, name: str, function: ast.FunctionDef | None, seen: set) -> set[str]:
        """A local name: its assignments in `function`, and, for a parameter, its default and every
        argument passed for it by callers of a function of that name."""
        if function is None or (id(function), name) in seen:
            return set()
        seen.add((id(function), name))
        found = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                found |= self.strings(node.value, seen)
        arguments = function.args
        positional = [arg.arg for arg in arguments.posonlyargs + arguments.args]
        if name not in positional + [arg.arg for arg in arguments.kwonlyargs]:
            return found
        defaults = dict(
            zip(
                positional[len(positional) - len(arguments.defaults) :],
                arguments.defaults,
                strict=True,
            )
        )
        defaults |= {
            arg.arg: d
            for arg, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
            if d is not None
        }
        if name in defaults:
            found |= self.strings(defaults[name], seen)
        for call in self.calls[function.name]:
            passed = [kw.value for kw in call.keywords if kw.arg == name]
            if name in positional and positional.index(name) < len(call.args):
                passed.append(call.args[positional.index(name)])
            for value in passed:
                found |= self.strings(value, seen)
        return found


def _callee(call: ast.Call) -> str:
    func = call.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


def flow_prompts(directory: Path = Path(ivr.flow.__file__).parent) -> dict[str, set[str]]:
    """Prompt call site ("module.py:line:column") -> the names it can say."""
    sources = FlowSources(directory)
    return {
        site: set().union(*(sources.strings(arg, set()) for arg in call.args))
        for site, call in sources.prompt_calls()
    }


def all_flow_prompt_names() -> set[str]:
    return set().union(*flow_prompts().values())


@pytest.fixture(scope="module")
def catalogue() -> PromptCatalogue:
    return PromptCatalogue()


# The catalogue.


def test_every_prompt_call_in_the_flow_is_understood():
    unresolved = [site for site, names in flow_prompts().items() if not names]
    assert not unresolved, f"cannot tell which prompt names these Prompt() calls say: {unresolved}"


def test_the_collector_follows_variables_f_strings_and_retry_notices():
    names = all_flow_prompt_names()
    assert {f"record_{kind}" for kind in GREETING_KINDS} <= names
    assert {"new", "saved", "message", "messages"} <= names  # folder names and plurals
    assert {
        "invalid_choice",
        "pin_invalid",
        "pin_mismatch",
        "invalid_mailbox",
    } <= names  # retry notices
    assert {"message_saved", "message_deleted", "message_forwarded"} <= names  # filing notices
    assert {"main_menu", "main_menu_fixed", "message_menu", "message_menu_ffrw"} <= names


def test_the_collector_traces_constants_and_leaves_the_rest_unresolved(tmp_path):
    (tmp_path / "menu.py").write_text(
        'def retry(ctx, notice="sorry"):\n'
        "    return Prompt(notice)\n"
        "def menu(ctx):\n"
        '    retry(ctx, notice="other")\n'
        '    kind = "a" if ctx else "b"\n'
        '    return Prompt(f"record_{kind}"), Prompt(ctx.name)\n'
    )
    said = sorted(flow_prompts(tmp_path).values(), key=sorted)
    assert said == [set(), {"other", "sorry"}, {"record_a", "record_b"}]


def test_every_prompt_the_flow_can_say_resolves(catalogue):
    missing = sorted(all_flow_prompt_names() - catalogue.names())
    assert not missing, f"prompts the flow says that prompts/catalogue.py lacks: {missing}"
    for name in all_flow_prompt_names():
        assert catalogue.sound(name)


def test_the_catalogue_holds_only_prompts_the_flow_says(catalogue):
    unused = sorted(catalogue.names() - all_flow_prompt_names())
    assert not unused, f"catalogue entries no Prompt() in ivr/flow says (stale?): {unused}"


def test_an_unknown_prompt_is_a_clear_key_error(catalogue):
    with pytest.raises(KeyError, match="unknown prompt 'no_such_prompt'.*catalogue"):
        catalogue.sound("no_such_prompt")


def test_core_sounds_are_relative_names_that_asterisk_has(catalogue):
    assert CORE_SOUNDS.is_dir(), (
        f"{CORE_SOUNDS} missing: install asterisk-core-sounds-en-wav (./vmbox.sh test does)"
    )
    for name in catalogue.names() - {n for n in catalogue.names() if catalogue.is_shipped(n)}:
        sound = catalogue.sound(name)
        assert not Path(sound).is_absolute() and "." not in sound, (name, sound)
        assert _wav_format(CORE_SOUNDS / f"{sound}.wav")[:3] == (8000, 1, 2), (name, sound)


def test_no_core_prompt_announces_app_voicemail_keys(catalogue):
    used = {catalogue.sound(name) for name in catalogue.names() if not catalogue.is_shipped(name)}
    assert not used & APP_VOICEMAIL_KEY_PROMPTS
    assert not [sound for sound in used if "login" in sound or "options" in sound]


def test_shipped_prompts_are_8khz_16bit_mono_wavs(catalogue):
    shipped = [name for name in catalogue.names() if catalogue.is_shipped(name)]
    assert shipped
    for name in shipped:
        path = Path(catalogue.sound(name) + ".wav")
        assert path.is_absolute() and path.parent == catalogue.shipped_dir
        rate, channels, width, frames = _wav_format(path)
        assert (rate, channels, width) == (8000, 1, 2), path.name
        assert 0.5 <= frames / rate <= 30, f"{path.name}: {frames / rate:.1f} s"


def test_shipped_prompts_and_their_texts_match(catalogue):
    texts = dict(
        line.split("\t", 1)
        for line in TEXTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(texts) == {name for name in catalogue.names() if catalogue.is_shipped(name)}
    assert all(text.strip() for text in texts.values())
    assert {path.stem for path in catalogue.shipped_dir.glob("*.wav")} == set(texts), (
        "run prompts/make_prompts.sh"
    )


def test_the_shipped_directory_can_move(tmp_path, monkeypatch):
    assert PromptCatalogue(tmp_path).sound("main_menu") == str(tmp_path / "main_menu")
    monkeypatch.chdir(tmp_path)
    assert PromptCatalogue("elsewhere").sound("main_menu") == str(
        tmp_path / "elsewhere" / "main_menu"
    )
    assert PromptCatalogue().sound("goodbye") == "vm-goodbye"


def _wav_format(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()


# The dialplan.


def dialplan(conf: Path = CONF) -> dict[str, list[str]]:
    """Context name -> its lines (comments and blank lines kept, in order); fails on anything that is
    not a context header, a comment, or an exten/same/include line."""
    contexts: dict[str, list[str]] = {}
    current = None
    for number, line in enumerate(conf.read_text().splitlines(), 1):
        stripped = line.strip()
        header = re.fullmatch(r"\[([\w-]+)\]", stripped)
        if header:
            current = contexts.setdefault(header[1], [])
        elif stripped and not stripped.startswith(";"):
            assert current is not None and re.match(r"(exten|same|include) =>", stripped), (
                f"line {number}: {line}"
            )
        if current is not None and not header:
            current.append(stripped)
    return contexts


def code(lines: list[str]) -> list[str]:
    return [line for line in lines if line and not line.startswith(";")]


def entry_points() -> list[tuple[str, str, list[str]]]:
    """(context, extension, its lines) for every extension of every context."""
    found = []
    for context, lines in dialplan().items():
        for line in code(lines):
            exten = re.match(r"exten => ([^,]+),1,", line)
            if exten:
                found.append((context, exten[1], []))
            if line.startswith(("exten", "same")):
                found[-1][2].append(line)
    return found


def test_every_context_starts_with_a_comment_naming_its_parameters():
    for context, lines in dialplan().items():
        comment = list(itertools.takewhile(lambda line: line.startswith(";"), lines))
        assert comment and "Parameters" in " ".join(comment), context


def test_the_contexts_the_readme_names_exist():
    named = set(re.findall(r"\bvmbox(?:-[a-z]+)+\b", CONF_README.read_text()))
    assert {"vmbox-leave", "vmbox-check", "vmbox-callback"} <= named
    defined = set(dialplan()) | set(dialplan(ARI_CONF))
    assert named <= defined, named - defined


def test_every_entry_point_makes_one_agi_call_to_vmbox():
    agi_default = f"agi://{AgiSettings().host}:{AgiSettings().port}"
    assert f"Set(VMBOX_AGI={agi_default})" in CONF.read_text()
    for context, exten, lines in entry_points():
        if context in ("vmbox-leave", "vmbox-check", "vmbox-callback"):
            agi = [line for line in lines if "AGI(" in line]
            assert len(agi) == 1, (context, exten)
            assert re.search(r"AGI\((\$\{VMBOX_AGI\}|" + re.escape(agi_default) + ")/", agi[0]), (
                agi[0]
            )
            assert lines[-1].endswith("Goto(vmbox-continue,s,1)"), (context, exten)


def test_every_vmbox_variable_is_vmbox_s_or_set_in_the_dialplan():
    text = CONF.read_text()
    vmbox_sets = {
        value
        for name, value in vars(channel_vars).items()
        if name.isupper() and value.startswith("VMBOX_")
    }
    dialplan_sets = set(re.findall(r"(?:Set|Read)\((VMBOX_\w+)[=,]", text))
    assert not dialplan_sets & vmbox_sets, "the dialplan must not set what vmbox sets"
    unknown = set(re.findall(r"VMBOX_\w+", text)) - vmbox_sets - dialplan_sets
    assert not unknown, (
        f"VMBOX_ variables neither in ivr/channel_vars.py nor set in the dialplan: {unknown}"
    )
    results = set(re.findall(r'"\$\{VMBOX_RESULT\}" = "(\w*)"', text))
    assert {channel_vars.OPERATOR, channel_vars.CALLBACK} <= results
    assert results <= {
        "",
        channel_vars.DONE,
        channel_vars.OPERATOR,
        channel_vars.CALLBACK,
        channel_vars.FAILED,
    }


# Each entry point: the code dialled, and what vmbox must make of its AGI call.
EXPECTED_CALLS = {
    ("vmbox-leave", "_X."): ("1001", Purpose.LEAVE, "1001"),
    ("vmbox-check", "*97"): ("*97", Purpose.CHECK, None),
    ("vmbox-check", "*98"): (
        "*98",
        Purpose.CHECK,
        None,
    ),  # vmbox asks for the mailbox (script login)
    ("vmbox-check", "_*98X."): ("*981001", Purpose.CHECK, "1001"),
    ("vmbox-callback", "_X."): ("1001", Purpose.CALLBACK, "1001"),
}


def test_agi_calls_reach_vmbox_as_the_calls_they_are():
    calls = {
        (context, exten): lines
        for context, exten, lines in entry_points()
        if context in ("vmbox-leave", "vmbox-check", "vmbox-callback")
    }
    assert set(calls) == set(EXPECTED_CALLS)
    for key, (dialled, purpose, mailbox) in EXPECTED_CALLS.items():
        agi = next(line for line in calls[key] if "AGI(" in line)
        values = {
            "EXTEN": dialled,
            "VMBOX_AGI": "agi://127.0.0.1:4573",
            "VMBOX_OPERATOR": "",
            "VMBOX_ACCOUNT": "",
        }
        url, *arguments = _expand(re.search(r"AGI\((.*)\)$", agi)[1], values).split(",")
        headers = {"agi_network_script": url.split("/", 3)[3], "agi_uniqueid": "1.1"}
        headers |= {f"agi_arg_{number}": value for number, value in enumerate(arguments, 1)}
        info = call_info(parse_request(headers))
        assert (info.purpose, info.mailbox) == (purpose, mailbox), key
        assert info.find_own_box is (key != ("vmbox-check", "*98")), key
        if purpose is Purpose.LEAVE:
            assert not info.operator  # an empty VMBOX_OPERATOR means no operator


def settings_defaults() -> dict[str, str]:
    """The defaults [vmbox-settings] gives the variables a call does not have yet."""
    lines = code(dialplan()["vmbox-settings"])
    return dict(
        re.findall(
            r"ExecIf\(\$\[\$\{LEN\(\$\{(\w+)\}\)\} = 0\]\?Set\(\1=([^)]*)\)\)", "\n".join(lines)
        )
    )


def test_settings_defaults_are_vmbox_s_defaults():
    from ivr.config import AgiSettings, AriSettings

    agi = AgiSettings()
    assert settings_defaults() == {
        "VMBOX_AGI": f"agi://{agi.host}:{agi.port}",
        "VMBOX_ARI_APP": AriSettings().app,
        "VMBOX_OPERATOR": "",
        "VMBOX_DIAL_CONTEXT": "vmbox-dial",
    }


def _expand(text: str, values: dict[str, str]) -> str:
    """Asterisk's ${VAR}, ${VAR:offset} and ${FILTER(chars,value)}, innermost first (enough for this file)."""

    def one(match: re.Match) -> str:
        inner = match[1]
        function = re.fullmatch(r"FILTER\(([^,]*),(.*)\)", inner)
        if function:
            allowed = re.sub(
                r"(\w)-(\w)",
                lambda r: "".join(map(chr, range(ord(r[1]), ord(r[2]) + 1))),
                function[1],
            )
            return "".join(c for c in function[2] if c in allowed)
        name, _, offset = inner.partition(":")
        return values[name][int(offset or 0) :]

    while "${" in text:
        text = re.sub(r"\$\{([^${}]*)\}", one, text)
    return text
