"""`page_size` as KAZOO's cb_context reads it on every listing: a whole number above 0, else the default
50; vmbox also caps it (here at 3, `ApiOptions.max_page_size`), the rest following by next_start_key.

A real server whose page limit is set low, so a few objects show it.
"""

import pytest

from store.api.options import ApiOptions

LISTINGS = ["/vmboxes", "/vmboxes/{box}/messages", "/vmboxes/messages", "/users", "/media"]


@pytest.fixture
def api_options() -> ApiOptions:
    return ApiOptions(page_size=2, max_page_size=3)


@pytest.fixture
async def paths(api) -> list[str]:
    """Each listing's path, with four entries in each."""
    boxes = [(await api.client.create_box(str(3000 + i)))["id"] for i in range(4)]
    for _ in range(4):
        await api.client.create_message(boxes[0])
    for i in range(4):
        await api.client.put("/users", {"data": {"first_name": "U", "last_name": str(i)}})
        await api.client.put("/media", {"data": {"name": f"greeting {i}"}})
    return [path.format(box=boxes[0]) for path in LISTINGS]


@pytest.mark.parametrize("size", ["many", "", "0", "-3", "1.5", "[3]"])
async def test_an_invalid_page_size_means_the_default(api, paths, size):
    for path in paths:
        reply = await api.client.get(f"{path}?page_size={size}")
        assert reply.status == 200, (path, reply.body)
        assert reply.body["page_size"] == len(reply.data) == 2, path
        assert "next_start_key" in reply.body


async def test_a_page_size_over_the_cap_is_the_cap_and_the_rest_follows(api, paths):
    for path in paths:
        first = await api.client.get(f"{path}?page_size=500")
        assert first.body["page_size"] == len(first.data) == 3, path
        key = first.body["next_start_key"]
        second = await api.client.get(f"{path}?page_size=500&start_key={key}")
        assert len(second.data) == 1 and "next_start_key" not in second.body, path


async def test_a_valid_page_size_is_kept(api, paths):
    for path in paths:
        reply = await api.client.get(f"{path}?page_size=1")
        assert reply.body["page_size"] == len(reply.data) == 1, path
