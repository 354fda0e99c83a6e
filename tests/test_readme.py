"""The README's generated parts stay true."""

import re
from pathlib import Path

from ivr import flow_diagram as diagram

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_flow_diagram_in_the_readme_is_the_one_the_table_gives():
    text = README.read_text()
    start, end = text.index(diagram.BEGIN), text.index(diagram.END) + len(diagram.END)
    assert text[start:end] == diagram.block(), "run: python -m ivr.flow.diagram --update README.md"


def test_every_state_with_a_transition_appears_in_the_diagram():
    drawn = diagram.mermaid()
    for state, _ in diagram.machine.TRANSITIONS:
        assert f"    {state.name} -->" in drawn


# The keys the page's script binds, as the page and the README name them.
_KEY_NAMES = {'" "': "Space", "ArrowLeft": "←", "ArrowRight": "→"}


def test_the_readme_the_page_and_its_script_list_the_same_keyboard_shortcuts():
    web = README.parent / "store" / "web"
    script = (web / "js" / "shortcuts.js").read_text()
    bound = re.search(r"const keys = \{(.*?)\n  \};", script, re.DOTALL)[1]
    bound_keys = {
        _KEY_NAMES.get(key, key) for key in re.findall(r'^\s+("[^"]*"|\w+): ', bound, re.M)
    }
    page = (web / "index.html").read_text()
    listed = re.search(r'<dl class="shortcuts">(.*?)</dl>', page, re.DOTALL)[1]
    page_keys = set(re.findall(r"<kbd>(.*?)</kbd>", listed))
    text = README.read_text()
    table = text[text.index("Keyboard shortcuts (") : text.index("The page is plain HTML")]
    readme_keys = set(re.findall(r"`([^`]+)`", table)) - {"/"}
    assert len(bound_keys) == 13
    assert bound_keys == page_keys == readme_keys
