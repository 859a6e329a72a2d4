-- Microsoft accounts an administrator allows a Mattermost user to connect although the e-mail addresses differ.
-- A link never connects anyone by itself: the user still signs in to the account. microsoft_account is an Entra
-- object id (GUID) or a userPrincipalName, lower-cased.
CREATE TABLE msteamsnotify_account_links (
    mm_user_id        TEXT PRIMARY KEY,
    microsoft_account TEXT NOT NULL,
    added_at          TIMESTAMPTZ NOT NULL
);
