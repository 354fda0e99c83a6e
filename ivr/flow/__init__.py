"""The call flow: a pure, table-driven state machine (events in, actions out; no I/O, no asyncio)."""
