"""Tables and figures from records.jsonl."""
