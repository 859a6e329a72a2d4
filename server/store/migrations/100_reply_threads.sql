-- Replies from Mattermost to Teams (package reply).
--
-- A user who answered a Teams chat from the thread of one of its DMs keeps that thread: later DMs from the chat
-- are posted as replies under root_post_id (the bot's DM the user answered), so the conversation reads in order.
-- One row per (chat, user); the newest answer wins.
CREATE TABLE msteamsnotify_reply_threads (
    chat_id      TEXT NOT NULL,
    mm_user_id   TEXT NOT NULL,
    root_post_id TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (chat_id, mm_user_id)
);

CREATE INDEX msteamsnotify_reply_threads_updated_at_idx ON msteamsnotify_reply_threads (updated_at);

-- When the user was asked (once) to reconnect because their sign-in lacks the ChatMessage.Send permission that
-- the app registration now has. NULL: never asked.
ALTER TABLE msteamsnotify_users ADD COLUMN reply_consent_asked_at TIMESTAMPTZ;
