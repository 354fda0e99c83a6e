"""The call flow stays pure: it imports nothing that does I/O, and its table covers what it claims."""

import ast
from pathlib import Path

import ivr.flow
from ivr.flow.machine import TRANSITIONS
from ivr.flow.state import State

ALLOWED = {"dataclasses", "enum", "collections", "typing"}


def test_flow_imports_only_the_standard_library_basics_and_itself():
    for path in Path(ivr.flow.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert name.startswith("ivr.flow") or top in ALLOWED, f"{path.name} imports {name}"


def test_no_async_code_in_the_flow():
    for path in Path(ivr.flow.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [
            n for n in ast.walk(tree) if isinstance(n, (ast.AsyncFunctionDef, ast.Await))
        ], path.name


def test_every_state_but_the_last_accepts_some_event():
    waiting = {state for state, _ in TRANSITIONS}
    assert set(State) - waiting == {State.FINISHED}
