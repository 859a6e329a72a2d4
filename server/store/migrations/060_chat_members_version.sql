-- A chat's membership version, changed by whichever node sees a membership change in the chat (a members
-- added/removed system message). Every node caches chats' members and checks this row before trusting its
-- copy, so a removed member stops getting the chat's messages on all nodes at once, not when each node's cache
-- expires. Versions come from one sequence, so a value is never reused, even after maintenance removed a row.
CREATE SEQUENCE msteamsnotify_chat_members_seq;

CREATE TABLE msteamsnotify_chat_members (
    chat_id    TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX msteamsnotify_chat_members_changed_at_idx ON msteamsnotify_chat_members (changed_at);
