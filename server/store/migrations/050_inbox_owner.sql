-- Who holds a claimed inbox row: the node (stable across plugin restarts on that node) and the plugin
-- process instance. A restarted plugin releases its node's rows held by an earlier instance at once, instead of
-- waiting out their lease; rows of other nodes are never touched. Empty for rows claimed by older versions.
ALTER TABLE msteamsnotify_inbox
    ADD COLUMN claimed_node     TEXT NOT NULL DEFAULT '',
    ADD COLUMN claimed_instance TEXT NOT NULL DEFAULT '';
