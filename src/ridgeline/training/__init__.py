"""The Lightning adapters that train: the N-children module, phases, schedules, preemption."""
