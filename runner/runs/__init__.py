"""Run history: the `runs` tables, their lifecycle writes, and the read views the CLI prints."""
