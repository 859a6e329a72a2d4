package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"

	"github.com/pkg/errors"
)

// GenerateSecrets fills an empty EncryptionKey or WebhookSecret with 32 random bytes (base64 URL, no padding) and
// reports whether anything changed, so the plugin can save the settings back before validating them.
func GenerateSecrets(c Configuration) (Configuration, bool, error) {
	changed := false
	for _, field := range []*string{&c.EncryptionKey, &c.WebhookSecret} {
		if strings.TrimSpace(*field) != "" {
			continue
		}
		secret, err := randomSecret()
		if err != nil {
			return c, false, err
		}
		*field = secret
		changed = true
	}
	return c, changed, nil
}

func randomSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", errors.Wrap(err, "generate random secret")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// secretFields are never printed; String shows only whether they are set.
var secretFields = map[string]bool{
	"ClientSecret":  true,
	"EncryptionKey": true,
	"WebhookSecret": true,
}

// String is the log form of the settings: every field by key, secrets replaced by "(set)" or "(empty)".
func (c Configuration) String() string {
	v := reflect.ValueOf(c)
	t := v.Type()
	parts := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		value := v.Field(i).Interface()
		switch {
		case secretFields[f.Name]:
			if v.Field(i).String() == "" {
				value = "(empty)"
			} else {
				value = "(set)"
			}
		case f.Name == "CustomCACertificate":
			// A certificate is public but long; its presence is what a log reader needs.
			if v.Field(i).String() == "" {
				value = "(empty)"
			} else {
				value = "(set)"
			}
		}
		if s, ok := value.(string); ok && s != "(set)" && s != "(empty)" {
			value = fmt.Sprintf("%q", s)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", f.Name, value))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// GoString keeps %#v from printing the secrets through the default struct formatting.
func (c Configuration) GoString() string { return "config.Configuration" + c.String() }
