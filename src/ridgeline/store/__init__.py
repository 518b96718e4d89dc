"""The run dir and the parent store: paths, records, the plan, resume, ``load_run``."""
