"""``ridgeline-train`` whose every rank stops itself (SIGSTOP) at one exact point of a run, for a
test to kill the whole job there at once, as a preemption does.

``RIDGELINE_TEST_STOP_AT=<point> python stop_at.py <overrides...>``, where ``<point>`` is one of
tests/helpers/interrupt.py's points. The point travels in the environment, not on the command
line: Lightning's ``ddp`` launcher starts rank 1 with this process's command line (the Python
executable, this file, its arguments) and environment, so rank 1 runs this file too and stops at
the same point (interrupt.py reads its signal and point from the command line, which rank 1
would read as overrides). :func:`wait_stopped` waits until every process of the job has stopped;
then ``processes.kill_tree`` kills them all at once.
"""

import os
import sys
import time

STOP_AT = "RIDGELINE_TEST_STOP_AT"


def wait_stopped(proc, ranks: int, timeout: float = 300) -> list[int]:
    """Wait until ``proc`` and its ``ranks`` - 1 child ranks are all stopped (SIGSTOP); their
    pids. Fails when ``proc`` ends first (the point was never reached) or on timeout."""
    from helpers.processes import _stat, descendants  # (in pytest; not in the job's ranks)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the job ended ({proc.returncode}) before it was stopped"
        tree = [proc.pid, *descendants(proc.pid)]
        states = [(_stat(p) or ["gone"])[0] for p in tree]
        if len(tree) == ranks and all(s == "T" for s in states):
            return tree
        time.sleep(0.05)
    raise AssertionError(f"the job did not stop at its point within {timeout} s")


def main() -> None:
    # this file's own directory is sys.path[0]: interrupt.py is importable as a module
    import interrupt

    sys.argv = [sys.argv[0], "SIGSTOP", os.environ[STOP_AT], *sys.argv[1:]]
    interrupt.main()


if __name__ == "__main__":
    main()
