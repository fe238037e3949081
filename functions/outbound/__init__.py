"""Outbound: what Heed sends to people (SMS now; platform replies and email later)."""
