"""Route handlers: one function per route, called from ``app.py``."""
