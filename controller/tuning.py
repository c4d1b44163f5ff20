"""Process-wide tuning for a controller process: the cyclic garbage collector, and logging.

A leader holds tens of thousands of decoded models in its caches, and a burst of placements
creates as many again (bindings, statuses, cache entries). With Python's default thresholds
(a young collection every 700 allocations) the collector runs thousands of times in such a
burst and keeps re-walking the survivors: about a third of the time of placing 10,000 tasks
went into it (bench/controller_bench.py). Collecting every 50,000 allocations instead keeps
the collector's share small; reference counting still frees everything that is not a cycle
at once. Together with `ControllerSettings.freeze_gc` (the caches of a new leader moved out
of the collector's sight once listed).

The controller logs a line per event, two or more per task: `tune_logging` stops the logging
module from looking up the file and line of every call (`logging._srcfile = None`, as the
logging HOWTO's "Optimization" section suggests), which no Shoal log format shows: 6 of the
20 microseconds a line took, a second of CPU time for 100,000 tasks.

Only entry points call these (`shoal controller`, and the benchmark, which measures what the
command runs): they change the whole process.
"""

from __future__ import annotations

import gc
import logging

__all__ = ["GC_THRESHOLDS", "tune_gc", "tune_logging"]

GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


def tune_logging() -> None:
    logging._srcfile = None  # documented in the logging HOWTO
