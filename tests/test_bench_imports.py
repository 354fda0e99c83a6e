"""The benchmarks are not run by the suite (they print figures), but each must at least load: a
helper moved from one benchmark module to another once left bench_real_asterisk.py unable to start."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent / "bench"


@pytest.mark.parametrize("name", sorted(path.stem for path in BENCH.glob("*.py")))
def test_every_benchmark_module_loads(name):
    module = importlib.import_module(f"tests.bench.{name}")
    assert module.__doc__, f"tests/bench/{name}.py should say what it measures"
