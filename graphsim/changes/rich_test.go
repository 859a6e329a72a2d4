package changes

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decryptItem is the subscriber's side of spec §4, written independently of encryptResource.
func decryptItem(t *testing.T, n notification, priv *rsa.PrivateKey) (plain, key []byte) {
	t.Helper()
	require.NotNil(t, n.EncryptedContent, "rich items carry encryptedContent")
	ec := n.EncryptedContent
	wrapped, err := base64.StdEncoding.DecodeString(ec.DataKey)
	require.NoError(t, err)
	key, err = rsa.DecryptOAEP(sha1.New(), nil, priv, wrapped, nil)
	require.NoError(t, err, "dataKey is RSA-OAEP with SHA-1")
	require.Len(t, key, 32)

	data, err := base64.StdEncoding.DecodeString(ec.Data)
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(ec.DataSignature)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	require.True(t, hmac.Equal(sig, mac.Sum(nil)), "dataSignature is HMAC-SHA256 over the ciphertext")

	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	require.Zero(t, len(data)%aes.BlockSize)
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	require.True(t, pad >= 1 && pad <= aes.BlockSize, "PKCS7 padding")
	require.Equal(t, bytes.Repeat([]byte{byte(pad)}, pad), out[len(out)-pad:])
	return out[:len(out)-pad], key
}

func richBody(h *harness, rcv *receiver, cert string) map[string]any {
	b := h.subBodyFor(rcv)
	b["includeResourceData"] = true
	b["encryptionCertificate"] = cert
	b["encryptionCertificateId"] = "key-1"
	return b
}

func TestRichNotificationDecryptsAndCarriesAValidationToken(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	status, resp := h.create(t, "app", richBody(h, rcv, certB64()))
	require.Equal(t, http.StatusCreated, status, resp)
	assert.Equal(t, true, resp["includeResourceData"])
	assert.Equal(t, "key-1", resp["encryptionCertificateId"])

	path := "chats('" + chat1 + "')/messages('1700000000001')"
	message := `{"id":"1700000000001","chatId":"19:abc123@thread.v2","body":{"contentType":"html","content":"<p>héllo</p>"}}`
	h.setResource(path, message)
	h.m.Publish(msgEvent("created", chat1, "1700000000001"))

	p := rcv.next(t)
	require.Len(t, p.Value, 1)
	n := p.Value[0]
	assert.Equal(t, path, n.Resource)
	plain, _ := decryptItem(t, n, subKey)
	assert.JSONEq(t, message, string(plain))
	assert.Equal(t, "key-1", n.EncryptedContent.EncryptionCertificateID)
	thumb := sha1.Sum(subCert.Raw)
	assert.True(t, strings.EqualFold(hex.EncodeToString(thumb[:]), n.EncryptedContent.EncryptionCertificateThumbprint))

	require.Len(t, p.ValidationTokens, 1)
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(p.ValidationTokens[0], claims, func(tok *jwt.Token) (any, error) {
		assert.Equal(t, "test-kid", tok.Header["kid"])
		return &stsKey.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(h.clock.Now),
		jwt.WithAudience(appA), jwt.WithIssuer(issuerFor(tenantA)), jwt.WithExpirationRequired())
	require.NoError(t, err)
	require.True(t, tok.Valid)
	assert.Equal(t, "0bf30f3b-4a52-48df-9a82-234910c4a086", claims["azp"])
	assert.Equal(t, "2.0", claims["ver"])
	assert.Equal(t, tenantA, claims["tid"])
	assert.Equal(t, float64(h.clock.Now().Add(time.Hour).Unix()), claims["exp"])
	assert.Equal(t, float64(h.clock.Now().Unix()), claims["nbf"])
}

func TestRichNotificationUsesAFreshKeyPerItem(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", richBody(h, rcv, certB64()))
	for _, id := range []string{"1", "2"} {
		h.setResource("chats('"+chat1+"')/messages('"+id+"')", `{"id":"`+id+`"}`)
		h.m.Publish(msgEvent("created", chat1, id))
	}
	items := rcv.nextItems(t, 2)
	plain1, key1 := decryptItem(t, items[0], subKey)
	plain2, key2 := decryptItem(t, items[1], subKey)
	assert.JSONEq(t, `{"id":"1"}`, string(plain1))
	assert.JSONEq(t, `{"id":"2"}`, string(plain2))
	assert.NotEqual(t, key1, key2)
}

func TestRichSubscriptionAcceptsBase64OfPEM(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	pemText := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: subCert.Raw})
	h.mustCreate(t, "app", richBody(h, rcv, base64.StdEncoding.EncodeToString(pemText)))
	h.setResource("chats('"+chat1+"')/messages('7')", `{"id":"7"}`)
	h.m.Publish(msgEvent("created", chat1, "7"))
	plain, _ := decryptItem(t, rcv.nextItems(t, 1)[0], subKey)
	assert.JSONEq(t, `{"id":"7"}`, string(plain))
}

func TestGoneResourceIsNotifiedWithoutContent(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", richBody(h, rcv, certB64()))
	h.m.Publish(msgEvent("deleted", chat1, "404"))
	p := rcv.next(t)
	require.Len(t, p.Value, 1)
	assert.Equal(t, "deleted", p.Value[0].ChangeType)
	assert.Nil(t, p.Value[0].EncryptedContent)
	assert.Len(t, p.ValidationTokens, 1)
}

func TestOneValidationTokenPerAppAndTenantInABatch(t *testing.T) {
	h := newHarness(t)
	s := h.m.Settings()
	s.BatchWindow = 500 * time.Millisecond
	h.m.SetSettings(s)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", richBody(h, rcv, certB64()))
	h.mustCreate(t, "appB", richBody(h, rcv, certB64()))

	h.m.Publish(msgEvent("created", chat1, "1"))
	h.m.Publish(msgEvent("updated", chat1, "1"))
	h.m.Publish(Event{ChangeType: "created", TenantID: tenantB, ChatID: chat2, MessageID: "2"})

	p := rcv.next(t)
	require.Len(t, p.Value, 3, "items of several subscriptions and tenants share one POST")
	require.Len(t, p.ValidationTokens, 2)
	var got [][2]string
	for _, raw := range p.ValidationTokens {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &stsKey.PublicKey, nil },
			jwt.WithTimeFunc(h.clock.Now))
		require.NoError(t, err)
		aud, err := claims.GetAudience()
		require.NoError(t, err)
		got = append(got, [2]string{aud[0], claims["tid"].(string)})
		assert.Equal(t, issuerFor(claims["tid"].(string)), claims["iss"])
	}
	assert.ElementsMatch(t, [][2]string{{appA, tenantA}, {appB, tenantB}}, got)
}

func TestValidationTokensNullMode(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	h.mustCreate(t, "app", richBody(h, rcv, certB64()))
	h.m.SetValidationTokensNull(true)
	h.m.Publish(msgEvent("created", chat1, "1"))
	p := rcv.next(t)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(p.raw, &raw))
	require.Contains(t, raw, "validationTokens")
	assert.Equal(t, "null", string(raw["validationTokens"]))
}

func TestRichSubscriptionRejectsSmallKeys(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	status, resp := h.create(t, "app", richBody(h, rcv, base64.StdEncoding.EncodeToString(smallCert(t))))
	require.Equal(t, http.StatusBadRequest, status)
	errorOf(t, resp)
}
