"""The ARI driver: vmbox as a Stasis application (client, media server, calls)."""
