"""Heed: serverless social customer service. See README.md for the layout."""
