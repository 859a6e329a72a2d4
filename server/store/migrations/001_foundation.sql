-- Connected accounts. A row survives disconnection (token cleared, disconnected_at set) so that
-- the Microsoft account stays mapped and seat accounting can tell who has ever connected.
CREATE TABLE msteamsnotify_users (
    mm_user_id        TEXT PRIMARY KEY,
    teams_user_id     TEXT NOT NULL,
    teams_email       TEXT NOT NULL DEFAULT '',
    -- AES-GCM ciphertext of the OAuth token (see package secrets); NULL once disconnected.
    token             BYTEA,
    -- Fingerprint of the key that encrypted token, so a key change can find rows to re-encrypt.
    token_key_id      TEXT,
    token_expiry      TIMESTAMPTZ,
    connected_at      TIMESTAMPTZ NOT NULL,
    disconnected_at   TIMESTAMPTZ,
    -- Time of the last message delivered to this user; catch-up resumes from here.
    last_delivered_at TIMESTAMPTZ,
    -- One Microsoft account links to at most one Mattermost user.
    CONSTRAINT msteamsnotify_users_teams_user_id_key UNIQUE (teams_user_id),
    CONSTRAINT msteamsnotify_users_token_key_check CHECK ((token IS NULL) = (token_key_id IS NULL))
);

CREATE INDEX msteamsnotify_users_connected_idx
    ON msteamsnotify_users (mm_user_id) WHERE disconnected_at IS NULL;

-- Pending OAuth sign-ins. The state is stored hashed: a database reader cannot complete
-- someone else's sign-in with it. Rows are deleted when consumed, so a state is single-use.
CREATE TABLE msteamsnotify_oauth_states (
    state_hash    BYTEA PRIMARY KEY,
    mm_user_id    TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    origin        TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX msteamsnotify_oauth_states_expires_at_idx ON msteamsnotify_oauth_states (expires_at);

-- Users allowed to connect when the admin restricts connections to a list.
CREATE TABLE msteamsnotify_whitelist (
    mm_user_id TEXT PRIMARY KEY,
    added_at   TIMESTAMPTZ NOT NULL
);

-- Invitations to connect, which hold a seat until they expire.
CREATE TABLE msteamsnotify_invites (
    mm_user_id   TEXT PRIMARY KEY,
    invited_at   TIMESTAMPTZ NOT NULL,
    last_sent_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX msteamsnotify_invites_expires_at_idx ON msteamsnotify_invites (expires_at);

-- Small named values: key fingerprints, a wrapped previous key during a key change, flags.
CREATE TABLE msteamsnotify_system_values (
    key        TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
