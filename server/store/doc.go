// Package store keeps the plugin's own state in Mattermost's PostgreSQL database: connected
// accounts and their encrypted tokens, pending OAuth sign-ins, the whitelist, invites and a few
// system values. It owns the connection pools (primary and optional read replicas), the embedded
// schema migrations and every query; other packages see plain Go values and typed errors.
//
// Every table is prefixed msteamsnotify_ so it can never collide with Mattermost's tables or with
// the official Microsoft Teams plugin's msteamssync_ tables, which may live in the same database.
package store
