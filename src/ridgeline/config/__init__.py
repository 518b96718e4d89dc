"""ridgeline-train's configuration: the typed schema (:mod:`.schema`), the rules a schema cannot
state (:mod:`.rules`), the checks by building each component (:mod:`.builds`), the run dir's
typed settings (:mod:`.settings`), the parent key (:mod:`.parent_key`), seeds, step lists and
resolvers, and how a job ends on a config error (:mod:`.hydra_errors`). The plan they produce
is :class:`~ridgeline.job.plan.RunPlan`.

Submodules are imported where they are used: composing a config must not import torch.
"""
