-- Replies from Mattermost to Teams (package reply) go through the durable inbox (queue "replies"), so a reply
-- caught by a plugin stop is sent when the plugin runs again. A Teams message cannot be posted idempotently:
-- this row is written before the POST ("sending") and marked once Teams answered ("sent"), so a retried job knows
-- an earlier attempt may have reached Teams and checks the chat before posting again.
CREATE TABLE msteamsnotify_sent_replies (
    post_id          TEXT PRIMARY KEY,
    chat_id          TEXT NOT NULL,
    mm_user_id       TEXT NOT NULL,
    state            TEXT NOT NULL,
    teams_message_id TEXT NOT NULL DEFAULT '',
    reserved_at      TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ
);

CREATE INDEX msteamsnotify_sent_replies_reserved_at_idx ON msteamsnotify_sent_replies (reserved_at);
