-- Attachments of Teams messages, forwarded to Mattermost by the attach package.
--
-- msteamsnotify_attachment_files remembers what became of each file of a message: the Mattermost
-- file it was uploaded as (uploaded once, then shared with every recipient by copying its file
-- info), the text of a code snippet, or why it could not be attached. A retried job reuses these
-- rows instead of downloading and uploading again.
CREATE TABLE msteamsnotify_attachment_files (
    chat_id     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    -- sha256 of the file's kind and URL: URLs can be longer than an index entry may be.
    file_key    TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    -- Mattermost file id of the upload; '' when the file was not uploaded.
    file_id     TEXT NOT NULL DEFAULT '',
    -- The DM channel the file was uploaded to (its original file info is attached there).
    channel_id  TEXT NOT NULL DEFAULT '',
    snippet     TEXT NOT NULL DEFAULT '',
    language    TEXT NOT NULL DEFAULT '',
    -- Why the file is not attached ('' when it is): too_large, image_too_large, forbidden, gone, ...
    problem     TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT msteamsnotify_attachment_files_pkey PRIMARY KEY (chat_id, message_id, file_key)
);

CREATE INDEX msteamsnotify_attachment_files_created_at_idx ON msteamsnotify_attachment_files (created_at);

-- One follow-up post per (message, recipient): reserved just before it is created, posted once it
-- exists. A reserved row found later means a crash in between: look for the post before posting again.
CREATE TABLE msteamsnotify_attachment_posts (
    chat_id     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    mm_user_id  TEXT NOT NULL,
    state       TEXT NOT NULL,
    post_id     TEXT NOT NULL DEFAULT '',
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT msteamsnotify_attachment_posts_pkey PRIMARY KEY (chat_id, message_id, mm_user_id),
    CONSTRAINT msteamsnotify_attachment_posts_state_check CHECK (state IN ('reserved', 'posted'))
);

CREATE INDEX msteamsnotify_attachment_posts_updated_at_idx ON msteamsnotify_attachment_posts (updated_at);
