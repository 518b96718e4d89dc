"""Sweeps: the shared parent store and the collection of a sweep's records."""
