-- What each user chose to hear from Teams (package mute). A row is a chat the user muted: none of its messages
-- become DMs for them until they unmute it, which deletes the row. chat_title is what lists show, read from
-- Graph when muting (the topic, or the other members' names), so listing needs no Graph call.
CREATE TABLE msteamsnotify_chat_choices (
    mm_user_id TEXT        NOT NULL,
    chat_id    TEXT        NOT NULL,
    chat_title TEXT        NOT NULL DEFAULT '',
    muted_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT msteamsnotify_chat_choices_pkey PRIMARY KEY (mm_user_id, chat_id)
);

-- Which messages the user wants: 'all', or 'mentions' (in group and meeting chats only messages that mention
-- them; 1:1 chats always). On the users row, so it goes with the connection; delivery reads it together with the
-- muted chats in one query per message. Older plugin versions ignore the column.
ALTER TABLE msteamsnotify_users ADD COLUMN message_mode TEXT NOT NULL DEFAULT 'all'
    CONSTRAINT msteamsnotify_users_message_mode_check CHECK (message_mode IN ('all', 'mentions'));
