"""Schema migrations, oldest first. Entry N brings the schema from version N to N+1; never edit a
released entry, append a new one.

Counting rule: a box's `new_count`/`saved_count` count its messages in state `active` and in that
folder. Triggers keep them true on every insert, update and delete, so no code path can forget;
messages past retention that the periodic expiry has not marked yet are subtracted at read time.
"""

_V1 = """
CREATE TABLE accounts (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    created INTEGER NOT NULL              -- Gregorian seconds
);

-- API keys and auth tokens are stored as SHA-256 hashes: a copy of the database grants nothing.
CREATE TABLE api_keys (
    key_hash   TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created    INTEGER NOT NULL
);

CREATE TABLE auth_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    expires    INTEGER NOT NULL               -- Unix seconds
);

CREATE TABLE vmboxes (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    mailbox     TEXT NOT NULL,
    name        TEXT NOT NULL,                -- name, owner_id and flags repeat the document's, so the
    owner_id    TEXT,                         -- box listing needs no JSON parsing
    flags       TEXT,                         -- JSON array, or NULL when the box has none
    doc         TEXT NOT NULL,                -- KAZOO document as JSON, without id and pin
    pin_hash    TEXT,
    rev         INTEGER NOT NULL,
    new_count   INTEGER NOT NULL DEFAULT 0,
    saved_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, mailbox)
);

CREATE TABLE messages (
    id         TEXT PRIMARY KEY,               -- YYYYMM-<32 hex>
    account_id TEXT NOT NULL,
    box_id     TEXT NOT NULL REFERENCES vmboxes(id) ON DELETE CASCADE,
    folder     TEXT NOT NULL,                  -- new | saved | deleted
    state      TEXT NOT NULL DEFAULT 'active', -- active | removed (DELETE) | expired (retention)
    timestamp  INTEGER NOT NULL,               -- Gregorian seconds
    doc        TEXT NOT NULL,                  -- metadata as JSON
    media_file TEXT,                           -- audio file under the media directory; NULL = none yet
    rev        INTEGER NOT NULL
);
CREATE INDEX messages_by_box ON messages (box_id, state, timestamp, id);
CREATE INDEX messages_by_account ON messages (account_id, state, timestamp, id);

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages WHEN NEW.state = 'active'
BEGIN
    UPDATE vmboxes SET new_count = new_count + (NEW.folder = 'new'),
                       saved_count = saved_count + (NEW.folder = 'saved')
     WHERE id = NEW.box_id;
END;

CREATE TRIGGER messages_count_delete AFTER DELETE ON messages WHEN OLD.state = 'active'
BEGIN
    UPDATE vmboxes SET new_count = new_count - (OLD.folder = 'new'),
                       saved_count = saved_count - (OLD.folder = 'saved')
     WHERE id = OLD.box_id;
END;

CREATE TRIGGER messages_count_update AFTER UPDATE OF folder, state, box_id ON messages
BEGIN
    UPDATE vmboxes SET new_count = new_count - (OLD.state = 'active' AND OLD.folder = 'new'),
                       saved_count = saved_count - (OLD.state = 'active' AND OLD.folder = 'saved')
     WHERE id = OLD.box_id;
    UPDATE vmboxes SET new_count = new_count + (NEW.state = 'active' AND NEW.folder = 'new'),
                       saved_count = saved_count + (NEW.state = 'active' AND NEW.folder = 'saved')
     WHERE id = NEW.box_id;
END;
"""

# Users, media objects (greetings and names) and PIN lockouts.
#
# user_phones mirrors each user's `endpoints` and `caller_id_numbers` (rewritten on every user write) so
# the owner lookup of a call is one indexed query; the matching rule lives in store/users.py.
# login_failures and box_lockouts go with their box (ON DELETE CASCADE).
_V2 = """
-- A phone finds its owner's box by owner_id (check messages without dialling a mailbox number).
CREATE INDEX vmboxes_by_owner ON vmboxes (account_id, owner_id);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    doc        TEXT NOT NULL,                 -- KAZOO document as JSON, without id
    rev        INTEGER NOT NULL
);
CREATE INDEX users_by_account ON users (account_id, id);

CREATE TABLE user_phones (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('endpoint', 'number')),
    value      TEXT NOT NULL
);
CREATE INDEX user_phones_by_value ON user_phones (account_id, kind, value);
CREATE INDEX user_phones_by_user ON user_phones (user_id, kind);

CREATE TABLE media (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    doc        TEXT NOT NULL,                 -- KAZOO media document as JSON, without id
    media_file TEXT,                          -- audio file under the media directory; NULL = none yet
    rev        INTEGER NOT NULL
);
CREATE INDEX media_by_account ON media (account_id, id);

CREATE TABLE login_failures (
    box_id TEXT NOT NULL REFERENCES vmboxes(id) ON DELETE CASCADE,
    at     INTEGER NOT NULL                   -- Unix seconds
);
CREATE INDEX login_failures_by_box ON login_failures (box_id, at);

CREATE TABLE box_lockouts (
    box_id       TEXT PRIMARY KEY REFERENCES vmboxes(id) ON DELETE CASCADE,
    locked_until INTEGER NOT NULL             -- Unix seconds
);
"""

# The durable job queue for notifications, and the message-waiting lamps to refresh.
# Jobs: `key` coalesces (at most one unfinished job per key, e.g. one callback series per box and
# number); every run is an attempt row. mwi_pending: a trigger marks a box whenever its counted
# messages change (like the counters, no code path can forget); the notifier drains it.
_V3 = """
CREATE TABLE jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    key        TEXT,
    payload    TEXT NOT NULL,                   -- JSON
    state      TEXT NOT NULL DEFAULT 'pending',  -- pending | running | done | failed
    run_at     REAL NOT NULL,                   -- Unix seconds
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created    REAL NOT NULL,
    updated    REAL NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE UNIQUE INDEX jobs_unfinished_key ON jobs (key) WHERE state IN ('pending', 'running');

CREATE TABLE job_attempts (
    job_id   INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    attempt  INTEGER NOT NULL,
    started  REAL NOT NULL,
    finished REAL,
    outcome  TEXT,                              -- done | retry | failed | rescheduled | interrupted
    detail   TEXT,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE mwi_pending (
    box_id     TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    mailbox    TEXT NOT NULL,
    changes    INTEGER NOT NULL DEFAULT 1,
    deleted    INTEGER NOT NULL DEFAULT 0       -- the box is gone: clear its lamp
);

CREATE TRIGGER mwi_on_insert AFTER INSERT ON messages WHEN NEW.state = 'active' AND NEW.folder != 'deleted'
BEGIN
    INSERT INTO mwi_pending (box_id, account_id, mailbox)
    SELECT id, account_id, mailbox FROM vmboxes WHERE id = NEW.box_id
    ON CONFLICT (box_id) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER mwi_on_update AFTER UPDATE OF folder, state, box_id ON messages
WHEN (OLD.state = 'active' AND OLD.folder != 'deleted') OR (NEW.state = 'active' AND NEW.folder != 'deleted')
BEGIN
    INSERT INTO mwi_pending (box_id, account_id, mailbox)
    SELECT id, account_id, mailbox FROM vmboxes WHERE id IN (OLD.box_id, NEW.box_id)
    ON CONFLICT (box_id) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER mwi_on_delete AFTER DELETE ON messages WHEN OLD.state = 'active' AND OLD.folder != 'deleted'
BEGIN
    INSERT INTO mwi_pending (box_id, account_id, mailbox)
    SELECT id, account_id, mailbox FROM vmboxes WHERE id = OLD.box_id
    ON CONFLICT (box_id) DO UPDATE SET changes = changes + 1;
END;

CREATE TRIGGER mwi_on_box_delete BEFORE DELETE ON vmboxes
BEGIN
    INSERT INTO mwi_pending (box_id, account_id, mailbox, deleted) VALUES (OLD.id, OLD.account_id, OLD.mailbox, 1)
    ON CONFLICT (box_id) DO UPDATE SET changes = changes + 1, deleted = 1, mailbox = OLD.mailbox;
END;

CREATE TRIGGER mwi_on_mailbox_change AFTER UPDATE OF mailbox ON vmboxes WHEN OLD.mailbox != NEW.mailbox
BEGIN
    INSERT INTO mwi_pending (box_id, account_id, mailbox) VALUES (NEW.id, NEW.account_id, NEW.mailbox)
    ON CONFLICT (box_id) DO UPDATE SET changes = changes + 1, mailbox = NEW.mailbox;
END;
"""

# Each account's realm: the domain of its messages' `from` and `to` (`6001@<realm>`), as KAZOO's accounts
# have one. NULL for accounts made before: store/accounts.py derives `<name>.vmbox` for them.
_V4 = """
ALTER TABLE accounts ADD COLUMN realm TEXT;
"""

# A message's history (the boxes it was moved or copied from) leaves its metadata for a column of its
# own: KAZOO keeps it beside the metadata, so the API never shows it.
_V5 = """
ALTER TABLE messages ADD COLUMN history TEXT;  -- JSON array, or NULL for none
UPDATE messages SET history = json_extract(doc, '$.history'), doc = json_remove(doc, '$.history')
 WHERE json_type(doc, '$.history') IS NOT NULL;
"""

# Tokens of a box login (mailbox and PIN, for the web page) name their box: such a token reaches that
# box alone. NULL for an account's tokens (an API key's). They go with their box.
_V6 = """
ALTER TABLE auth_tokens ADD COLUMN box_id TEXT REFERENCES vmboxes(id) ON DELETE CASCADE;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
