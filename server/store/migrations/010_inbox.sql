-- Durable intake: change notifications and follow-up work, waiting for a worker on any node.
--
-- A row is due when not_before <= now and it is not parked. Claiming a row moves not_before to the end of
-- the claimer's lease (and sets claimed_until to the same time), so a crashed node's rows become due again
-- on their own when the lease runs out; there is no separate "expired lease" scan. attempts counts claims
-- and doubles as a fencing token: a retry or park only applies to the claim that made it.
CREATE TABLE msteamsnotify_inbox (
    id            BIGSERIAL PRIMARY KEY,
    queue         TEXT NOT NULL,
    -- Items with the same non-empty key in one queue collapse while neither has been claimed yet.
    dedupe_key    TEXT NOT NULL DEFAULT '',
    payload       BYTEA NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    enqueued_at   TIMESTAMPTZ NOT NULL,
    not_before    TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    parked_at     TIMESTAMPTZ,
    last_error    TEXT NOT NULL DEFAULT ''
);

-- Claim order: the oldest due row first.
CREATE INDEX msteamsnotify_inbox_due_idx
    ON msteamsnotify_inbox (queue, not_before, id) WHERE parked_at IS NULL;

-- The dedupe target: only rows never claimed, so a row being worked on is never overwritten under a
-- worker (a change arriving meanwhile gets its own row and is processed after it).
CREATE UNIQUE INDEX msteamsnotify_inbox_dedupe_idx
    ON msteamsnotify_inbox (queue, dedupe_key) WHERE attempts = 0 AND dedupe_key <> '';

CREATE INDEX msteamsnotify_inbox_parked_idx
    ON msteamsnotify_inbox (queue, parked_at) WHERE parked_at IS NOT NULL;
