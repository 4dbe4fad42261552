"""Append-only audit trail: who changed what, when, before and after."""
