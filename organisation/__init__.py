"""Agencies, users, roles, the one \"who may\" policy and the audit log."""
