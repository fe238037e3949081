"""Platform adapters: verify a webhook's proof and parse it into :class:`Message` objects."""
