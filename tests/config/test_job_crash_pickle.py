"""A crashed job's wrapped exception survives pickling: submitit's launcher pickles what a job
raised, and the rebuilt wrapper must carry the real exception (not a TypeError of its own)."""

import pickle

from ridgeline.config.hydra_errors import _JobCrashed


def test_a_crashed_jobs_exception_is_rebuilt_from_its_pickle() -> None:
    crash = _JobCrashed(ValueError("the real cause"))
    back = pickle.loads(pickle.dumps(crash))
    assert type(back) is _JobCrashed
    assert type(back.exc) is ValueError and str(back.exc) == "the real cause"
