"""The data side of vmbox: SQLite store, audio files, JSON schemas and the KAZOO-compatible REST API.

Nothing in this package knows about telephony; `ivr` depends on it, never the reverse.
"""
