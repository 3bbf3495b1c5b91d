"""Shared plumbing, below every app: domain errors and their API answers, the pinnable clock, request
parsing, a per-process cache re-validated by a stamp, append-only rows, the read-only admin base."""
