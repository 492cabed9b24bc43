"""Pure domain model: requests, tasks, states, the model catalog and errors (no I/O)."""
