"""Outbound: what Heed sends to people: SMS (alerts), platform replies, email (SES)."""
