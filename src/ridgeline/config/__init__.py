"""ridgeline-train's configuration: the typed schema (:mod:`.schema`), the rules a schema cannot
state (:mod:`.rules`), the checks by building each component (:mod:`.builds`), the run dir's
resume policy (:mod:`.run_dir`) and the :class:`~ridgeline.config.plan.RunPlan` they produce.

Submodules are imported where they are used: composing a config must not import torch.
"""
