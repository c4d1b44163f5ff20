"""Process-wide tuning for a controller process: the cyclic garbage collector.

A leader holds tens of thousands of decoded models in its caches, and a burst of placements
creates as many again (bindings, statuses, cache entries). With Python's default thresholds
(a young collection every 700 allocations) the collector runs thousands of times in such a
burst and keeps re-walking the survivors: about a third of the time of placing 10,000 tasks
went into it (bench/controller_bench.py). Collecting every 50,000 allocations instead keeps
the collector's share small; reference counting still frees everything that is not a cycle
at once. Together with `ControllerSettings.freeze_gc` (the caches of a new leader moved out
of the collector's sight once listed).

Only entry points call this (`shoal controller`, and the benchmark, which measures what the
command runs): it changes the whole process.
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_gc"]

GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
