-- The tenant-wide change-notification subscription, managed by one node at a time (package subscription).
-- One row per managed subscription (name 'tenant'). The leader writes the subscription columns; any node
-- records lifecycle events and requests in the flag columns, which the leader clears once handled.
CREATE TABLE msteamsnotify_subscription (
    name                     TEXT PRIMARY KEY,
    subscription_id          TEXT NOT NULL DEFAULT '',
    expires_at               TIMESTAMPTZ,
    -- Hash of the settings the subscription was created with; a difference means it must be recreated.
    fingerprint              TEXT NOT NULL DEFAULT '',
    -- encryptionCertificateId the subscription carries ('' without rich notifications).
    certificate_id           TEXT NOT NULL DEFAULT '',
    created_at               TIMESTAMPTZ,
    last_renewed_at          TIMESTAMPTZ,
    -- Last time the subscription was known to be live: a gap in notifications starts no earlier.
    last_good_at             TIMESTAMPTZ,
    last_error               TEXT NOT NULL DEFAULT '',
    last_error_at            TIMESTAMPTZ,
    -- Flags.
    reauthorize_requested_at TIMESTAMPTZ,
    removed_at               TIMESTAMPTZ,
    gap_since                TIMESTAMPTZ,
    recreate_reason          TEXT NOT NULL DEFAULT '',
    -- Latest change notification any node accepted (each node writes at most once per check).
    last_notification_at     TIMESTAMPTZ,
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Leases for work that one node at a time must do (the subscription manager's leadership).
CREATE TABLE msteamsnotify_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- RSA key pairs for rich notifications. Graph encrypts each item to the certificate on the subscription;
-- older keys stay until their certificates have long expired, since items encrypted to them may still be
-- waiting (in Graph's retries or in the inbox). The private key is sealed with the plugin's encryption key.
CREATE TABLE msteamsnotify_rich_keys (
    id          TEXT PRIMARY KEY,
    thumbprint  TEXT NOT NULL,
    certificate BYTEA NOT NULL,
    private_key BYTEA NOT NULL,
    key_id      TEXT NOT NULL,
    not_after   TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT msteamsnotify_rich_keys_thumbprint_key UNIQUE (thumbprint)
);
