"""Storage of a run: where its files are (layout), how each is written (atomically), the
record store (``records.jsonl``), checkpoints, and how a damaged file is named."""
