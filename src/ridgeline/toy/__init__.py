"""Toy landscapes that make the mechanism visible: the scalar two-layer model and a small MLP."""
