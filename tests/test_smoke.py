async def test_health_and_box_roundtrip(api):
    reply = await api.client.get("/healthz")
    assert reply.status == 200 and reply.body == {"status": "ok"}
    box = await api.client.create_box("3000")
    fetched = await api.client.get(f"/vmboxes/{box['id']}")
    assert fetched.status == 200
    assert fetched.data["mailbox"] == "3000"
