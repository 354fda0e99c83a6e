"""Scenarios on the real Asterisk: each is one async function of a Scene, run over both drivers; a test
module registers them and turns them into tests:

    scenario = Scenarios()

    @scenario
    async def leave_a_message(scene): ...

    test_on_asterisk = scenario.tests()            # one test per scenario and driver
    test_both_drivers_say_the_same = scenario.same_sounds()   # per scenario: FastAGI and ARI callers
                                                               # heard the same sound files

Every scenario of every selected test is started at once, at the first test that needs the harness
(conftest.py's `real_asterisk`); each test then waits for its own.
"""

from collections.abc import Awaitable, Callable

import pytest

from tests.asterisk.harness import SCENARIO_TIMEOUT_S, Harness, Scene
from tests.asterisk.vmbox import DRIVERS

Scenario = Callable[[Scene], Awaitable[None]]


class Scenarios:
    def __init__(self):
        self.functions: dict[str, Scenario] = {}

    def __call__(self, function: Scenario) -> Scenario:
        self.functions[function.__name__] = function
        return function

    def keys_for(self, scenario: str, driver: str | None) -> list[tuple]:
        """The runs a test of `scenario` (on `driver`, or on both) needs."""
        return [(id(self), scenario, one) for one in ([driver] if driver else DRIVERS)]

    def start(self, harness: Harness, scenario: str, driver: str | None) -> None:
        for key in self.keys_for(scenario, driver):
            harness.schedule(key, self.functions[scenario], key[2])

    def tests(self):
        """A test per scenario and driver: the scenario ran to its end without failing."""

        @pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)  # a test may wait for the scenarios before it
        @pytest.mark.parametrize("driver", DRIVERS)
        @pytest.mark.parametrize("scenario", list(self.functions))
        def test_on_asterisk(scenario: str, driver: str, real_asterisk: Harness) -> None:
            real_asterisk.outcome(self.keys_for(scenario, driver)[0])

        test_on_asterisk.scenarios = self
        return test_on_asterisk

    def same_sounds(self):
        """A test per scenario: its calls heard the same sound files, in the same order, over FastAGI as
        over ARI. Messages and greetings are all `audio` (their files differ by driver), and ARI's waits
        for a key, silent playbacks (`silence/N`) where FastAGI waits without playing, are left out: the
        caller hears silence either way."""

        def heard(scene) -> list[list[str]]:
            return [
                [sound for sound in phone.played if not sound.startswith("silence/")]
                for phone in scene.phones
            ]

        @pytest.mark.timeout(SCENARIO_TIMEOUT_S + 60)
        @pytest.mark.parametrize("scenario", list(self.functions))
        def test_both_drivers_say_the_same(scenario: str, real_asterisk: Harness) -> None:
            fastagi, ari = (real_asterisk.outcome(key) for key in self.keys_for(scenario, None))
            assert heard(ari) == heard(fastagi)

        test_both_drivers_say_the_same.scenarios = self
        return test_both_drivers_say_the_same
