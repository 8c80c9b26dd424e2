"""Why forked tasks call ``gc.freeze()``: a child's garbage collection walks, and so copies
(copy-on-write), every object it inherited from its parent, so the cost of a forked task grows
with the parent's heap unless the inherited objects are frozen first.

    python bench/fork_gc.py

A parent holding 10k, 100k and 300k objects forks 60 children, each allocating 20,000 small
objects and running one full collection, with and without ``gc.freeze()`` in the child; it
prints the children's CPU per fork (``RUSAGE_CHILDREN``). bench/README.md, "Scale".
"""

from __future__ import annotations

import gc
import os
import resource
import time


def child_work(freeze: bool) -> None:
    if freeze:
        gc.freeze()
    junk = [{"i": i, "l": [i]} for i in range(20000)]  # a task's own allocations
    gc.collect()
    del junk
    os._exit(0)


def run(n_objects: int, freeze: bool, forks: int = 60) -> None:
    heap = [{"a": i, "b": [i, str(i)], "c": (i,)} for i in range(n_objects)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            child_work(freeze)
        os.waitpid(pid, 0)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / forks
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"parent objects {n_objects:>7}  freeze={freeze!s:5}  parent RSS {rss:5.0f} MiB  "
          f"child CPU {cpu * 1000:7.2f} ms  wall per fork {wall / forks * 1000:7.2f} ms")
    del heap


if __name__ == "__main__":
    print(f"load average {os.getloadavg()[0]:.1f}")
    for n in (10_000, 100_000, 300_000):
        for freeze in (False, True):
            run(n, freeze)
