package connect

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/secrets"
)

func TestTokenCopiedIntoAnotherUsersRowDoesNotOpen(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustConnect("u1", "ada@contoso.com")
	h.mustConnect("u2", "grace@contoso.com")
	ada, err := h.store.GetUser(ctx, "u1")
	require.NoError(t, err)

	require.NoError(t, h.store.UpdateUserToken(ctx, "u2", ada.Token, ada.TokenKeyID, ada.TokenExpiry))
	_, err = h.svc.Token(ctx, "u2")
	require.ErrorIs(t, err, secrets.ErrBinding, "u2 must not act with u1's Microsoft token")
	assert.Contains(t, err.Error(), "does not belong to this record")

	_, err = h.svc.Token(ctx, "u1")
	assert.NoError(t, err, "the owner's row is unaffected")
}

func TestTokenOfTheOldFormatStillWorksAndIsResealedOnRefresh(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustConnect("u1", "ada@contoso.com")
	tok := h.storedToken("u1")
	tok.Expiry = h.svc.now().Add(-time.Minute)
	b, err := json.Marshal(storedToken{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry})
	require.NoError(t, err)
	// What the plugin wrote before tokens were bound to their user.
	v1, keyID, err := h.ciph.Seal(b)
	require.NoError(t, err)
	require.NoError(t, h.store.UpdateUserToken(ctx, "u1", v1, keyID, tok.Expiry))

	got, err := h.svc.Token(ctx, "u1")
	require.NoError(t, err, "an upgrade disconnects nobody")
	assert.NotEqual(t, tok.AccessToken, got.AccessToken)

	row, err := h.store.GetUser(ctx, "u1")
	require.NoError(t, err)
	_, legacy, err := h.ciph.OpenFor(secrets.PurposeUserToken, "u1", row.Token, row.TokenKeyID)
	require.NoError(t, err)
	assert.False(t, legacy, "the refresh re-sealed the token bound to its user")
	_, _, err = h.ciph.OpenFor(secrets.PurposeUserToken, "u2", row.Token, row.TokenKeyID)
	assert.ErrorIs(t, err, secrets.ErrBinding)
}
