package changes

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// handshake performs Graph's endpoint validation: POST url?validationToken=<token> as text/plain,
// and require 200, a text/plain reply and the URL-decoded token verbatim, within the timeout.
func (m *Manager) handshake(ctx context.Context, rawURL string) error {
	m.mu.Lock()
	timeout := m.settings.HandshakeTimeout
	m.stats.Handshakes++
	m.mu.Unlock()
	err := m.doHandshake(ctx, rawURL, timeout)
	if err != nil {
		m.mu.Lock()
		m.stats.HandshakeFailures++
		m.mu.Unlock()
	}
	return err
}

func (m *Manager) doHandshake(ctx context.Context, rawURL string, timeout time.Duration) error {
	// Real tokens are free text with spaces and colons, so a client that echoes the encoded form fails.
	token := "Validation: Testing client application reachability for subscription Request-Id: " + newUUID()
	u, err := url.Parse(rawURL)
	if err != nil {
		return errors.Wrap(err, "parse notification url")
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "validationToken=" + url.QueryEscape(token)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return errors.Wrap(err, "build validation request")
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := m.d.HTTPClient.Do(req)
	if err != nil {
		return errors.Wrap(err, "send validation request")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return errors.Wrap(err, "read validation response")
	}
	if resp.StatusCode != http.StatusOK {
		return errors.Errorf("validation response status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "text/plain") {
		return errors.Errorf("validation response content type %q", ct)
	}
	if string(body) != token {
		return errors.New("validation response does not echo the token")
	}
	return nil
}
