-- What each user chose to hear of Teams channel messages (issue 17). Personal mentions are always forwarded;
-- channel_group_mentions adds mentions of a team, channel or tag they belong to (off: those can reach
-- thousands of people), channel_thread_replies replies in threads they started or replied in (on, as in Teams'
-- own activity feed). On the users row, so the choices go with the connection and channel delivery reads them
-- with the connected users in one query. Older plugin versions ignore the columns.
ALTER TABLE msteamsnotify_users ADD COLUMN channel_group_mentions boolean NOT NULL DEFAULT false;
ALTER TABLE msteamsnotify_users ADD COLUMN channel_thread_replies boolean NOT NULL DEFAULT true;

-- Channel delivery asks for the users who follow group mentions on every team, channel or tag mention.
CREATE INDEX msteamsnotify_users_channel_group_mentions_idx ON msteamsnotify_users (mm_user_id)
    WHERE channel_group_mentions;
