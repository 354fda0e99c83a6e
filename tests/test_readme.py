"""The README's generated parts stay true."""

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
