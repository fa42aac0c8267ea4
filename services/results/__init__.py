"""The results service: the execution records."""
