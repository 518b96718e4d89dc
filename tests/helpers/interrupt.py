"""``ridgeline-train`` that sends itself a real signal at one exact point of a run.

``python interrupt.py <SIGNAL> <point> <overrides...>``, where ``<point>`` is
``probe:<phase>:<reason>[:<step>]`` (as that probe starts, before its record is written) or
``final:<phase>`` (after the phase's checkpoint at T, before its ``done.json``) or
``write:<file name>:<n>`` (inside this process's n-th atomic write of a file of that name, e.g.
``last.ckpt`` or ``records.jsonl``: its temporary file is cut to half, as a write killed midway
leaves it, and the target is not yet replaced). A kill that a test would otherwise have to time
by watching files happens here deterministically.
"""

import os
import signal
import sys

from ridgeline.probes import LandscapeProbe
from ridgeline.store.checkpoints import PhaseCheckpoint


def main() -> None:
    signum = getattr(signal, sys.argv[1])
    point = sys.argv[2].split(":")
    sys.argv = [sys.argv[0], *sys.argv[3:]]
    fired = []

    def fire() -> None:
        if not fired:
            fired.append(True)
            os.kill(os.getpid(), signum)

    if point[0] == "probe":
        phase, reason, *step = point[1:]
        probe = LandscapeProbe.probe

        def probe_then_signal(self, trainer, pl_module, why):
            at_step = not step or pl_module.absolute_step == int(step[0])
            if self.phase.name == phase and why == reason and at_step:
                fire()
            return probe(self, trainer, pl_module, why)

        LandscapeProbe.probe = probe_then_signal
    elif point[0] == "final":
        final = PhaseCheckpoint.on_train_end

        def final_then_signal(self, trainer, pl_module):
            final(self, trainer, pl_module)
            if self.phase.root.name == point[1]:
                fire()

        PhaseCheckpoint.on_train_end = final_then_signal
    elif point[0] == "write":
        name, nth = point[1], int(point[2])
        replace, seen = os.replace, []

        def replace_or_signal(src, dst, *args, **kwargs):
            if os.path.basename(dst) == name:
                seen.append(dst)
                if len(seen) == nth:
                    os.truncate(src, os.path.getsize(src) // 2)  # the write is half done
                    fire()
            return replace(src, dst, *args, **kwargs)

        os.replace = replace_or_signal
    else:
        raise SystemExit(f"unknown point {sys.argv[2]}")

    from ridgeline.cli.train import main as train

    train()


if __name__ == "__main__":
    main()
