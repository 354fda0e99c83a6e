"""Run a module under cProfile timed by the main thread's CPU time, for bench_calls.py --profile.

    python bench_calls_profiled.py FILE MODULE [ARGS...]

Wall-clock profiles of an event loop are dominated by the time it waits; the CPU clock of the loop's
own thread shows what each call costs it (work on other threads, aiosqlite's, is left out). The
statistics are written to FILE when MODULE exits (`vmbox serve` does on SIGTERM).
"""

import cProfile
import runpy
import sys
import time

if __name__ == "__main__":
    output, module, *arguments = sys.argv[1:]
    sys.argv = [module, *arguments]
    profiler = cProfile.Profile(time.thread_time)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.dump_stats(output)
