"""FastAGI: the protocol (pure), the connection and server, and the driver that runs the call flow."""
