"""The KAZOO-compatible REST API over the store (aiohttp). Handlers only translate: parse the request,
call one store function, answer in KAZOO's envelope."""
