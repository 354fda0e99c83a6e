"""The telephony side of vmbox and the process entry point (`vmbox` command)."""
