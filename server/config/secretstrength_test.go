package config

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWebhookSecretStrength(t *testing.T) {
	// The System Console's generated values use this 32-symbol alphabet.
	const base32 = "ybndrfg8ejkmcpqxot1uwisza345h769"
	for range 2000 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		for i := range b {
			b[i] = base32[int(b[i])%len(base32)]
		}
		if p := WebhookSecretProblem(string(b)); p != "" {
			t.Fatalf("a generated secret was refused: %s", p)
		}
	}
	assert.Empty(t, WebhookSecretProblem(rand.Text()+rand.Text()))

	for name, weak := range map[string]string{
		"short":              "hook-secret-0123456789",
		"one character":      strings.Repeat("a", 40),
		"repeated password":  strings.Repeat("password1234", 4),
		"two characters":     strings.Repeat("ab", 20),
		"too long":           strings.Repeat(rand.Text(), 6),
		"few distinct chars": "1211221112221111222212121122112211",
	} {
		p := WebhookSecretProblem(weak)
		assert.Contains(t, p, "Regenerate", name)
		assert.NotContains(t, p, weak, name)
	}
}

func TestWeakWebhookSecretIsWarnedWhenStoredAndRefusedWhenNew(t *testing.T) {
	for range 200 {
		c := valid()
		c.WebhookSecret = ""
		filled, _, err := GenerateSecrets(c)
		assert.NoError(t, err)
		assert.Empty(t, WebhookSecretProblem(filled.WebhookSecret), "a generated secret always passes")
	}

	stored := valid()
	stored.WebhookSecret = strings.Repeat("password1234", 3)
	assert.NoError(t, stored.Validate(), "a weak secret already in use does not stop the plugin")
	assert.NoError(t, stored.ValidateChange(stored), "nor does saving other settings next to it")
	if assert.Len(t, stored.Warnings(), 1) {
		assert.Contains(t, stored.Warnings()[0], "Regenerate")
	}

	next := stored
	next.WebhookSecret = strings.Repeat("a", 40)
	err := next.ValidateChange(stored)
	if assert.Error(t, err, "a newly entered weak secret is refused") {
		assert.Contains(t, err.Error(), "Webhook secret is too easy to guess")
		assert.NotContains(t, err.Error(), next.WebhookSecret)
	}

	good, _, err := GenerateSecrets(Configuration{})
	assert.NoError(t, err)
	next.WebhookSecret = good.WebhookSecret
	assert.NoError(t, next.ValidateChange(stored))
	assert.Empty(t, next.Warnings())
}
