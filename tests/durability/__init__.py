"""Durability tests: real worker, Temporal and Postgres processes, killed and restarted."""
