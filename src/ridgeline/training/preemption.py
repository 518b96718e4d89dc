"""SIGTERM (SLURM's preemption and time limit): save what can be resumed, say so, exit non-zero.

Inside ``fit``, Lightning turns SIGTERM into a ``SIGTERMException`` at the end of the current
step; :class:`~ridgeline.store.checkpoints.PhaseCheckpoint` then saves ``last.ckpt`` and the
phase raises :class:`Preempted`. Between phases (or during an end-of-phase probe, which Lightning
lets finish), the handler installed here only notes the signal; the next phase start raises
:class:`Preempted` on every rank. The handler chains to the one it replaces, so submitit's own
handlers keep working (its USR2 checkpoint-and-requeue is not touched).
"""

import signal
from pathlib import Path

# 128 + SIGTERM: what a shell reports for a process ended by SIGTERM, and what SLURM expects.
EXIT_PREEMPTED = 128 + signal.SIGTERM


class Preempted(Exception):
    """The job stopped on SIGTERM; ``resume_from`` holds the state to resume (None: nothing
    of the current phase had to be saved)."""

    def __init__(self, phase: str, step: int | None, resume_from: Path | None) -> None:
        self.phase, self.step, self.resume_from = phase, step, resume_from
        where = f"in phase {phase}" + (f" at step {step}" if step is not None else "")
        saved = f"; its state is saved in {resume_from}" if resume_from else ""
        super().__init__(
            f"stopped by SIGTERM {where}{saved}; run the same command to resume the run"
        )


class SigtermNotice:
    """Notes a SIGTERM for the next phase start, then calls the handler it replaced."""

    def __init__(self) -> None:
        self.received = False
        self._previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        self.received = True
        if callable(self._previous):
            self._previous(signum, frame)

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)
