package switchover_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
	"github.com/teamsnotify/msteams-sync/server/switchover"
)

// officialKey is what the official plugin generates: 32 characters, used as the raw AES-256 key.
const officialKey = "Zq3vN8xLr2TgW5bYc7HkP1sDf4JmA6eU"

var switchTime = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// official writes the official plugin's tables and rows as its documented format describes
// (shared/reference/official-plugin-data.md): unquoted column names, Unix microseconds, AES-GCM sealed JSON tokens.
type official struct {
	t    *testing.T
	conn *pgx.Conn
}

func newOfficial(t *testing.T, dsn string) *official {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS msteamssync_users (mmUserID VARCHAR(255), msTeamsUserID VARCHAR(255), token TEXT,
			lastConnectAt BIGINT NOT NULL DEFAULT 0, lastDisconnectAt BIGINT NOT NULL DEFAULT 0,
			LastChatSentAt BIGINT NOT NULL DEFAULT 0, LastChatReceivedAt BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (mmUserID, msTeamsUserID));
		CREATE UNIQUE INDEX IF NOT EXISTS idx_msteamssync_users_msteamsuserid_unq ON msteamssync_users (msTeamsUserID);
		CREATE TABLE IF NOT EXISTS msteamssync_whitelist (mmUserID VARCHAR(255) PRIMARY KEY);
		CREATE TABLE IF NOT EXISTS msteamssync_invited_users (mmUserID VARCHAR(255) PRIMARY KEY,
			invitePendingSince BIGINT, inviteLastSentAt BIGINT);`)
	require.NoError(t, err)
	return &official{t: t, conn: conn}
}

// seal is the official plugin's token format: base64.URLEncoding(nonce || AES-GCM(key, JSON(oauth2.Token))).
func seal(t *testing.T, key string, tok map[string]any) string {
	block, err := aes.NewCipher([]byte(key))
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	plaintext, err := json.Marshal(tok)
	require.NoError(t, err)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.URLEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, nil))
}

func oauthToken(refresh string) map[string]any {
	return map[string]any{"access_token": "at-" + refresh, "token_type": "Bearer", "refresh_token": refresh,
		"expiry": switchTime.Add(time.Hour).Format(time.RFC3339Nano)}
}

func (o *official) user(mmID, teamsID, token string, connectedAt, lastReceived time.Time) {
	_, err := o.conn.Exec(context.Background(), `INSERT INTO msteamssync_users
		(mmUserID, msTeamsUserID, token, lastConnectAt, lastDisconnectAt, LastChatReceivedAt) VALUES ($1, $2, $3, $4, $5, $6)`,
		mmID, teamsID, token, connectedAt.UnixMicro(), int64(0), micros(lastReceived))
	require.NoError(o.t, err)
}

func (o *official) whitelist(ids ...string) {
	for _, id := range ids {
		_, err := o.conn.Exec(context.Background(), `INSERT INTO msteamssync_whitelist (mmUserID) VALUES ($1)`, id)
		require.NoError(o.t, err)
	}
}

func (o *official) invite(mmID string, pendingSince, lastSent time.Time) {
	_, err := o.conn.Exec(context.Background(), `INSERT INTO msteamssync_invited_users VALUES ($1, $2, $3)`,
		mmID, pendingSince.UnixMicro(), lastSent.UnixMicro())
	require.NoError(o.t, err)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

type env struct {
	dsn     string
	store   *store.Store
	keyring *secrets.Keyring
	off     *official
}

func newEnv(t *testing.T, tracer pgx.QueryTracer) *env {
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{DataSource: dsn, Tracer: tracer})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.Migrate(ctx))
	c, err := secrets.NewCipher(officialKey) // the setting carries over and keys this plugin too
	require.NoError(t, err)
	return &env{dsn: dsn, store: s, keyring: secrets.NewKeyring(c), off: newOfficial(t, dsn)}
}

func (e *env) opts(key string) switchover.Options {
	return switchover.Options{Store: e.store, Sealer: e.keyring, OfficialKey: key, InviteExpiry: 30 * 24 * time.Hour,
		Now: func() time.Time { return switchTime }}
}

// openToken reads a token back the way this plugin does for delivery: bound to the user.
func (e *env) openToken(t *testing.T, mmUserID string) map[string]any {
	u, err := e.store.GetUser(context.Background(), mmUserID)
	require.NoError(t, err)
	require.True(t, u.Connected(), "%s is connected", mmUserID)
	plaintext, _, err := e.keyring.OpenFor(secrets.PurposeUserToken, mmUserID, u.Token, u.TokenKeyID)
	require.NoError(t, err)
	var tok map[string]any
	require.NoError(t, json.Unmarshal(plaintext, &tok))
	return tok
}

func TestOfficialUsersWhitelistAndInvitesAreTakenOverOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	connected := switchTime.Add(-48 * time.Hour)
	lastDM := switchTime.Add(-10 * time.Minute)
	e.off.user("alice", "teams-alice", seal(t, officialKey, oauthToken("rt-alice")), connected, lastDM)
	e.off.user("bob", "teams-bob", "", connected, time.Time{}) // disconnected: the row stays, the token is empty
	e.off.whitelist("alice", "carol")
	invited := switchTime.Add(-72 * time.Hour)
	e.off.invite("carol", invited, invited.Add(24*time.Hour))

	res, err := switchover.Import(ctx, e.opts(officialKey))
	require.NoError(t, err)
	assert.True(t, res.Found)
	assert.True(t, res.Imported)
	assert.Equal(t, store.OfficialImport{At: switchTime, Connected: 1, Disconnected: 1, Whitelist: 2, Invites: 1}, res.Record)

	tok := e.openToken(t, "alice")
	assert.Equal(t, "rt-alice", tok["refresh_token"], "alice keeps her Microsoft sign-in")
	assert.Equal(t, "at-rt-alice", tok["access_token"])
	alice, err := e.store.GetUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, "teams-alice", alice.TeamsUserID)
	assert.True(t, alice.ConnectedAt.Equal(connected))
	assert.True(t, alice.LastDeliveredAt.Equal(lastDM), "catch-up resumes where the official plugin stopped")

	bob, err := e.store.GetUser(ctx, "bob")
	require.NoError(t, err)
	assert.False(t, bob.Connected(), "a disconnected user stays disconnected")

	wl, err := e.store.ListWhitelist(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"alice", "carol"}, wl)
	inv, err := e.store.GetInvite(ctx, "carol")
	require.NoError(t, err)
	assert.True(t, inv.InvitedAt.Equal(invited), "the invitation keeps its date")
	assert.True(t, inv.ExpiresAt.Equal(invited.Add(30*24*time.Hour)))

	// A second activation (or another node) finds the import done and changes nothing.
	e.off.user("dave", "teams-dave", seal(t, officialKey, oauthToken("rt-dave")), connected, time.Time{})
	again, err := switchover.Import(ctx, e.opts(officialKey))
	require.NoError(t, err)
	assert.False(t, again.Imported)
	assert.Equal(t, res.Record, again.Record, "the record of the one import is reported")
	_, err = e.store.GetUser(ctx, "dave")
	assert.ErrorIs(t, err, store.ErrNotFound, "the import ran once")

	// The official plugin's tables are read, never changed: going back to it stays possible.
	var n int
	require.NoError(t, e.off.conn.QueryRow(ctx, `SELECT count(*) FROM msteamssync_users WHERE token <> ''`).Scan(&n))
	assert.Equal(t, 2, n)
}

func TestADatabaseWithoutTheOfficialPluginImportsNothing(t *testing.T) {
	dsn := storetest.NewDatabase(t)
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{DataSource: dsn})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.Migrate(ctx))
	c, err := secrets.NewCipher(officialKey)
	require.NoError(t, err)

	res, err := switchover.Import(ctx, switchover.Options{Store: s, Sealer: secrets.NewKeyring(c), OfficialKey: officialKey})
	require.NoError(t, err)
	assert.False(t, res.Found)
	_, err = s.GetOfficialImport(ctx)
	assert.ErrorIs(t, err, store.ErrNotFound, "no record: the official plugin may still be installed later")
}

func TestAWrongKeyImportsNothingAndSaysWhatToDo(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.off.user("alice", "teams-alice", seal(t, officialKey, oauthToken("rt-alice")), switchTime, time.Time{})
	e.off.user("bob", "teams-bob", "", switchTime, time.Time{})

	_, err := switchover.Import(ctx, e.opts("Another32CharacterKeyThanBefore!"))
	require.ErrorIs(t, err, switchover.ErrWrongKey)
	assert.Contains(t, err.Error(), "At-rest encryption key")
	assert.NotContains(t, err.Error(), officialKey)
	for _, id := range []string{"alice", "bob"} {
		_, err := e.store.GetUser(ctx, id)
		assert.ErrorIs(t, err, store.ErrNotFound, "nothing half-imported (%s)", id)
	}

	// With the key put back, the next activation imports everything.
	res, err := switchover.Import(ctx, e.opts(officialKey))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Record.Connected)
	assert.Equal(t, 1, res.Record.Disconnected)
}

func TestOneUnreadableTokenDoesNotStopTheOthers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	e.off.user("alice", "teams-alice", seal(t, officialKey, oauthToken("rt-alice")), switchTime, time.Time{})
	e.off.user("bob", "teams-bob", "bm90IGEgdG9rZW4=", switchTime, time.Time{})
	e.off.user("carol", "teams-carol", seal(t, officialKey, map[string]any{"token_type": "Bearer"}), switchTime, time.Time{})

	res, err := switchover.Import(ctx, e.opts(officialKey))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Record.Connected)
	require.Len(t, res.Record.NotImported, 2)
	for _, ni := range res.Record.NotImported {
		assert.Contains(t, ni.Reason, "connect again", "%s is told apart", ni.MMUserID)
	}
	for _, id := range []string{"bob", "carol"} {
		u, err := e.store.GetUser(ctx, id)
		require.NoError(t, err, "%s keeps a row (seat and history)", id)
		assert.False(t, u.Connected())
	}
	e.openToken(t, "alice")
}

func TestThisPluginsOwnRowsWin(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ours, keyID, err := e.keyring.SealFor(secrets.PurposeUserToken, "alice", []byte(`{"access_token":"ours","refresh_token":"ours-rt"}`))
	require.NoError(t, err)
	require.NoError(t, e.store.SaveConnection(ctx, store.Connection{MMUserID: "alice", TeamsUserID: "teams-alice",
		Token: ours, TokenKeyID: keyID, ConnectedAt: switchTime.Add(-time.Hour)}))
	e.off.user("alice", "teams-alice", seal(t, officialKey, oauthToken("official-rt")), switchTime.Add(-90*24*time.Hour), time.Time{})
	// The same Microsoft account linked to another Mattermost user in the official plugin.
	e.off.user("mallory", "teams-alice-2", seal(t, officialKey, oauthToken("rt-m")), switchTime, time.Time{})
	require.NoError(t, e.store.SaveConnection(ctx, store.Connection{MMUserID: "zed", TeamsUserID: "teams-alice-2",
		Token: ours, TokenKeyID: keyID, ConnectedAt: switchTime}))

	res, err := switchover.Import(ctx, e.opts(officialKey))
	require.NoError(t, err)
	assert.Equal(t, 0, res.Record.Connected)
	assert.Len(t, res.Record.NotImported, 2)
	assert.Equal(t, "ours-rt", e.openToken(t, "alice")["refresh_token"], "the user's own connection is kept")
	_, err = e.store.GetUser(ctx, "mallory")
	assert.ErrorIs(t, err, store.ErrNotFound, "a Microsoft account stays linked to one Mattermost user")
}

// cancelOn cancels the import's context when a statement containing match starts: the import is interrupted
// half-way through writing, as by a crash or a plugin stop.
type cancelOn struct {
	match  string
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOn) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if c.cancel != nil && strings.Contains(data.SQL, c.match) {
		c.once.Do(c.cancel)
	}
	return ctx
}

func (c *cancelOn) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestAnInterruptedImportLeavesNothingAndIsResumedInFull(t *testing.T) {
	tracer := &cancelOn{match: "INSERT INTO msteamsnotify_whitelist"}
	e := newEnv(t, tracer)
	e.off.user("alice", "teams-alice", seal(t, officialKey, oauthToken("rt-alice")), switchTime, time.Time{})
	e.off.user("bob", "teams-bob", seal(t, officialKey, oauthToken("rt-bob")), switchTime, time.Time{})
	e.off.whitelist("alice")

	ctx, cancel := context.WithCancel(context.Background())
	tracer.cancel = cancel
	_, err := switchover.Import(ctx, e.opts(officialKey))
	require.Error(t, err, "the interrupted import fails")
	tracer.cancel = nil

	bg := context.Background()
	_, err = e.store.GetUser(bg, "alice")
	assert.ErrorIs(t, err, store.ErrNotFound, "the users written before the interruption are rolled back")
	_, err = e.store.GetOfficialImport(bg)
	assert.ErrorIs(t, err, store.ErrNotFound)

	res, err := switchover.Import(bg, e.opts(officialKey))
	require.NoError(t, err)
	assert.True(t, res.Imported)
	assert.Equal(t, 2, res.Record.Connected)
	assert.Equal(t, 1, res.Record.Whitelist)
}

func TestNodesImportingAtOnceImportOnce(t *testing.T) {
	e := newEnv(t, nil)
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		e.off.user(id, "teams-"+id, seal(t, officialKey, oauthToken("rt-"+id)), switchTime.Add(time.Duration(i)*time.Minute), time.Time{})
	}
	var wg sync.WaitGroup
	results := make([]switchover.Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = switchover.Import(context.Background(), e.opts(officialKey))
		}()
	}
	wg.Wait()
	imported := 0
	for i := range results {
		require.NoError(t, errs[i])
		if results[i].Imported {
			imported++
		}
		assert.Equal(t, 5, results[i].Record.Connected, "every node reports the one import")
	}
	assert.Equal(t, 1, imported)
}

func TestTheOfficialSubscriptionIsAcceptedUntilItLapses(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	_, err := e.off.conn.Exec(ctx, `CREATE TABLE msteamssync_subscriptions (subscriptionID VARCHAR(255) PRIMARY KEY,
		type VARCHAR(255), msTeamsTeamID VARCHAR(255), msTeamsChannelID VARCHAR(255), msTeamsUserID VARCHAR(255),
		secret VARCHAR(255), expiresOn BIGINT, certificate TEXT, lastActivityAt BIGINT)`)
	require.NoError(t, err)
	add := func(id, typ string, expires time.Time) {
		_, err := e.off.conn.Exec(ctx, `INSERT INTO msteamssync_subscriptions (subscriptionID, type, secret, expiresOn)
			VALUES ($1, $2, 'hook-secret', $3)`, id, typ, expires.UnixMicro())
		require.NoError(t, err)
	}
	add("official-live", "allChats", switchTime.Add(90*time.Minute))
	add("official-lapsed", "allChats", switchTime.Add(-time.Minute))
	add("official-channel", "channel", switchTime.Add(90*time.Minute))

	now := switchTime
	subs := &switchover.InheritedSubscriptions{Store: e.store, Now: func() time.Time { return now }}
	assert.True(t, subs.OwnsSubscription(ctx, "official-live"), "messages sent during the switch are taken")
	assert.False(t, subs.OwnsSubscription(ctx, "official-lapsed"))
	assert.False(t, subs.OwnsSubscription(ctx, "official-channel"), "only the tenant-wide chat subscription")
	assert.False(t, subs.OwnsSubscription(ctx, "someone-else"))

	now = switchTime.Add(2 * time.Hour) // nobody renewed it: the official plugin is gone
	assert.False(t, subs.OwnsSubscription(ctx, "official-live"))
}

func TestNoOfficialSubscriptionsTableAcceptsNothing(t *testing.T) {
	s := storetest.NewStore(t)
	subs := &switchover.InheritedSubscriptions{Store: s}
	assert.False(t, subs.OwnsSubscription(context.Background(), "anything"))
}
