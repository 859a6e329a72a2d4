-- What became of each Teams chat message for each connected Mattermost user: the bot DM it produced
-- (so edits and deletes can find it), or why none was sent. One row per (chat, message, user) makes
-- delivery exactly-once however often Graph or the inbox repeats a notification.
--
-- mm_user_id = '' is a message-level tombstone: the message was deleted in Teams, so a late or
-- reordered "created" notification must not deliver it.
CREATE TABLE msteamsnotify_posts (
    chat_id           TEXT NOT NULL,
    message_id        TEXT NOT NULL,
    mm_user_id        TEXT NOT NULL,
    -- reserved: a DM is about to be created (or was, and the process died before recording it);
    -- posted, deleted: the DM exists (deleted: it now says the message was deleted in Teams);
    -- skipped: deliberately not sent (reason says why); summarized: listed in a catch-up summary.
    state             TEXT NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    channel_id        TEXT NOT NULL DEFAULT '',
    post_id           TEXT NOT NULL DEFAULT '',
    -- lastModifiedDateTime / lastEditedDateTime of the version the DM shows.
    last_modified     TIMESTAMPTZ,
    last_edited       TIMESTAMPTZ,
    -- createdDateTime of the Teams message, for retention.
    message_created   TIMESTAMPTZ,
    -- Attachments still have to be handed to the attachment queue for this DM.
    files_pending     BOOLEAN NOT NULL DEFAULT FALSE,
    reserved_at       TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT msteamsnotify_posts_pkey PRIMARY KEY (chat_id, message_id, mm_user_id),
    CONSTRAINT msteamsnotify_posts_state_check
        CHECK (state IN ('reserved', 'posted', 'deleted', 'skipped', 'summarized'))
);

-- Retention sweeps old rows by the time they were written.
CREATE INDEX msteamsnotify_posts_reserved_at_idx ON msteamsnotify_posts (reserved_at);
