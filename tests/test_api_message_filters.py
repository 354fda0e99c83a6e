"""KAZOO's listing filters on message listings (crossbar_filter.erl, as cb_vmboxes applies them to a
message's metadata): `filter_<field>`, `filter_not_<field>`, a JSON array value meaning any of its
strings, `has_key`, `key_missing`, `has_value`, `value_missing`, dotted paths, values compared as text.

A real server and store; a transcription is stored with the store call the transcription job makes.
"""

from urllib.parse import quote

import pytest

from store.messages import set_transcription


async def listed(api, box: str, query: str) -> list[str]:
    reply = await api.client.get(f"/vmboxes/{box}/messages?paginate=false&{query}")
    assert reply.status == 200, reply.body
    return [item["media_id"] for item in reply.data]


async def everywhere(api, query: str) -> list[str]:
    reply = await api.client.get(f"/vmboxes/messages?paginate=false&{query}")
    assert reply.status == 200, reply.body
    return [entry["media_id"] for item in reply.data for entry in item.values()]


@pytest.fixture
async def box(api) -> str:
    return (await api.client.create_box("3000"))["id"]


@pytest.fixture
async def folders(api, box) -> dict[str, str]:
    """One message per folder, by folder."""
    return {
        folder: (await api.client.create_message(box, folder=folder))["media_id"]
        for folder in ("new", "saved", "deleted")
    }


async def test_filter_not_folder_lists_every_other_folder(api, box, folders):
    assert sorted(await listed(api, box, "filter_not_folder=new")) == sorted(
        [folders["saved"], folders["deleted"]]
    )


async def test_a_json_array_means_any_of_its_values(api, box, folders):
    query = "filter_folder=" + quote('["new","saved"]')
    assert sorted(await listed(api, box, query)) == sorted([folders["new"], folders["saved"]])
    assert await listed(api, box, "filter_folder=" + quote('["deleted"]')) == [folders["deleted"]]
    assert await listed(api, box, "filter_not_folder=" + quote('["new","saved"]')) == [
        folders["deleted"]
    ]


async def test_a_json_string_is_its_text(api, box, folders):
    assert await listed(api, box, "filter_folder=" + quote('"saved"')) == [folders["saved"]]


async def test_numbers_are_compared_as_text(api, box):
    wanted = (await api.client.create_message(box, length=3140))["media_id"]
    await api.client.create_message(box, length=5500)
    assert await listed(api, box, "filter_length=3140") == [wanted]
    assert await listed(api, box, "filter_not_length=5500") == [wanted]
    # In KAZOO a JSON array's numbers are no text: they never equal a stored value.
    assert await listed(api, box, "filter_length=" + quote("[3140]")) == []
    assert await listed(api, box, "filter_length=" + quote('["3140","1"]')) == [wanted]


async def test_booleans_and_missing_fields_as_text(api, box):
    flagged = (await api.client.create_message(box, urgent=True))["media_id"]
    plain = (await api.client.create_message(box))["media_id"]
    assert await listed(api, box, "filter_urgent=true") == [flagged]
    # A missing field reads as "": an empty filter value matches it.
    assert await listed(api, box, "filter_urgent=") == [plain]
    assert await listed(api, box, "filter_not_urgent=true") == [plain]


async def test_has_key_and_key_missing(api, box):
    transcribed = (await api.client.create_message(box))["media_id"]
    await set_transcription(api.store, api.client.account_id, box, transcribed, "success", "hi")
    other = (await api.client.create_message(box))["media_id"]
    assert await listed(api, box, "has_key=transcription") == [transcribed]
    assert await listed(api, box, "key_missing=transcription") == [other]
    assert await listed(api, box, "has_key=transcription.text") == [transcribed]


async def test_dotted_paths_reach_into_objects(api, box):
    ids = {}
    for result in ("success", "failure"):
        ids[result] = (await api.client.create_message(box))["media_id"]
        await set_transcription(api.store, api.client.account_id, box, ids[result], result, "")
    assert await listed(api, box, "filter_transcription.result=success") == [ids["success"]]
    assert await listed(api, box, "filter_not_transcription.result=success") == [ids["failure"]]


@pytest.mark.parametrize(
    "note, has_value",
    [
        ("call me", True),
        (False, True),
        (7, True),
        ("", False),
        ("0", False),
        ("NULL", False),
        ("undefined", False),
        (0, False),
        (None, False),
        ([], False),
        ({}, False),
    ],
)
async def test_has_value_and_value_missing_follow_kazoo_s_empty_values(api, box, note, has_value):
    noted = (await api.client.create_message(box, note=note))["media_id"]
    absent = (await api.client.create_message(box))["media_id"]
    assert await listed(api, box, "has_value=note") == ([noted] if has_value else [])
    assert sorted(await listed(api, box, "value_missing=note")) == sorted(
        [absent] if has_value else [absent, noted]
    )
    assert await listed(api, box, "has_key=note") == [noted]  # present, however empty


async def test_filters_combine_and_other_parameters_are_not_filters(api, box):
    wanted = await api.client.create_message(box, caller_id_number="6001", folder="saved")
    await api.client.create_message(box, caller_id_number="6001")
    await api.client.create_message(box, caller_id_number="6002", folder="saved")
    query = "filter_folder=saved&filter_caller_id_number=6001&has_key=folder&foo=bar"
    assert await listed(api, box, query) == [wanted["media_id"]]


async def test_the_deleted_folder_stays_hidden_unless_a_filter_asks_for_folders(api, box, folders):
    assert sorted(await listed(api, box, "has_key=folder")) == sorted(
        [folders["new"], folders["saved"]]
    )


async def test_the_account_wide_listing_filters_too(api, box, folders):
    other = (await api.client.create_box("3001"))["id"]
    saved_elsewhere = (await api.client.create_message(other, folder="saved"))["media_id"]
    assert sorted(await everywhere(api, "filter_not_folder=" + quote('["new","deleted"]'))) == (
        sorted([folders["saved"], saved_elsewhere])
    )
    assert await everywhere(api, "filter_to=" + quote("3001@a.vmbox")) == [saved_elsewhere]


async def test_a_filtered_listing_pages(api, box):
    ids = [
        (await api.client.create_message(box, caller_id_number="6001"))["media_id"]
        for _ in range(3)
    ]
    await api.client.create_message(box, caller_id_number="6002")
    first = await api.client.get(
        f"/vmboxes/{box}/messages?page_size=2&filter_caller_id_number=6001"
    )
    assert len(first.data) == 2 and "next_start_key" in first.body
    key = first.body["next_start_key"]
    second = await api.client.get(
        f"/vmboxes/{box}/messages?page_size=2&filter_caller_id_number=6001&start_key={key}"
    )
    walked = [item["media_id"] for item in first.data + second.data]
    assert sorted(walked) == sorted(ids) and "next_start_key" not in second.body


async def test_a_field_name_holding_a_quote_is_a_missing_field(api, box):
    message = (await api.client.create_message(box))["media_id"]
    assert await listed(api, box, "has_key=" + quote('a"b')) == []
    assert await listed(api, box, "key_missing=" + quote('a"b')) == [message]
    assert await listed(api, box, "filter_" + quote('a"b') + "=") == [message]
