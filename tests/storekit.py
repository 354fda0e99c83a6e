"""Changes the tests make behind the store's back (time passing, an older document), in both SQL
dialects of the store."""

from store.sql import Dialects

AGE = Dialects(
    sqlite="UPDATE messages SET timestamp = ?, doc = json_set(doc, '$.timestamp', ?) WHERE id = ?",
    postgresql="UPDATE messages SET timestamp = ?, doc = vmbox_json_set(doc, 'timestamp', to_json(?::bigint))"
    " WHERE id = ?",
)


async def set_timestamp(tx, message_id: str, timestamp: int) -> int:
    """Give a message another timestamp (its column and its metadata), as time passing would."""
    return await tx.execute(AGE, (timestamp, timestamp, message_id))


async def set_field(tx, message_id: str, field: str, json_value: str) -> int:
    """Set a top-level field of a message's metadata to the JSON text `json_value`."""
    return await tx.execute(
        Dialects(
            sqlite=f"UPDATE messages SET doc = json_set(doc, '$.{field}', json(?)) WHERE id = ?",
            postgresql=f"UPDATE messages SET doc = vmbox_json_set(doc, '{field}', ?::json) WHERE id = ?",
        ),
        (json_value, message_id),
    )


async def drop_field(tx, message_id: str, field: str) -> int:
    """Remove a top-level field from a message's metadata, as an older document might lack it."""
    return await tx.execute(
        Dialects(
            sqlite=f"UPDATE messages SET doc = json_remove(doc, '$.{field}') WHERE id = ?",
            postgresql=f"UPDATE messages SET doc = (doc::jsonb - '{field}')::text WHERE id = ?",
        ),
        (message_id,),
    )
