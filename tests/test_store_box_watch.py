"""The state of watched boxes (store/box_watch.py) as the live updates read it: counts per folder,
boxes of the account only."""

from store.accounts import create_account
from store.box_watch import box_states
from store.message_changes import change_folder
from store.messages import create_message
from store.vmboxes import create_vmbox


async def test_box_states_count_each_folder_and_leave_out_other_accounts_boxes(store, account):
    box = (await create_vmbox(store.db, account, {"name": "Ann", "mailbox": "3000"})).id
    other_account = (await create_account(store.db, "B"))[0].id
    other = (await create_vmbox(store.db, other_account, {"name": "Bob", "mailbox": "3000"})).id
    ids = [(await create_message(store, account, box, {})).id for _ in range(3)]
    await change_folder(store, account, box, ids[:1], "saved")
    await change_folder(store, account, box, ids[1:2], "deleted")
    states = await box_states(store.db, account, [box, other, "0" * 32], store.cutoff())
    assert list(states) == [box]
    assert states[box].counts == {"new": 1, "saved": 1, "deleted": 1}
