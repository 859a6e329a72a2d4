package config

import (
	"math"
	"unicode"
)

const (
	webhookSecretMinLen  = 32
	webhookSecretMaxLen  = 128
	webhookSecretMinBits = 128
	// A generated 32-character secret draws from at least 32 symbols; the chance that it uses fewer than
	// eight distinct ones is far below one in a trillion, while "aaaa…" or "abab…" always does.
	webhookSecretMinDistinct = 8
)

// WebhookSecretProblem says, in a sentence for the administrator, why the webhook secret is too weak to
// authenticate Microsoft's notifications, or returns "" for a good one. A secret the System Console
// generated always passes. The strength is an estimate: the length of the secret's shortest repeating
// unit (so "password1234password1234…" counts as 12 characters) times log2 of the alphabet its
// character classes span. The secret itself never appears in the message.
func WebhookSecretProblem(secret string) string {
	const regenerate = " Select Regenerate next to Webhook secret in the System Console and save; connected users keep their subscriptions."
	runes := []rune(secret)
	switch {
	case len(runes) < webhookSecretMinLen:
		return "Webhook secret is shorter than 32 characters." + regenerate
	case len(runes) > webhookSecretMaxLen:
		return "Webhook secret is longer than 128 characters, which Microsoft Graph does not accept as a client state." + regenerate
	}
	distinct := map[rune]bool{}
	for _, r := range runes {
		distinct[r] = true
	}
	if len(distinct) < webhookSecretMinDistinct || estimatedBits(runes) < webhookSecretMinBits {
		return "Webhook secret is too easy to guess (it repeats characters or a short pattern)." + regenerate
	}
	return ""
}

func estimatedBits(runes []rune) float64 {
	var lower, upper, digit, other bool
	for _, r := range runes {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if c.used {
			alphabet += c.size
		}
	}
	return float64(shortestPeriod(runes)) * math.Log2(float64(alphabet))
}

// shortestPeriod is the length of the shortest unit whose repetition produces runes (the last repetition may be
// cut short), computed with the KMP failure function.
func shortestPeriod(runes []rune) int {
	fail := make([]int, len(runes))
	for i, k := 1, 0; i < len(runes); i++ {
		for k > 0 && runes[i] != runes[k] {
			k = fail[k-1]
		}
		if runes[i] == runes[k] {
			k++
		}
		fail[i] = k
	}
	if len(runes) == 0 {
		return 0
	}
	return len(runes) - fail[len(runes)-1]
}
