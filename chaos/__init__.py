"""Fault injection against a running node (`scripts/chaos`)."""
