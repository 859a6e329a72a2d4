package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/pkg/errors"
	"golang.org/x/oauth2"
)

// APIError is a failed Graph or identity-platform call, reduced to what callers decide on.
type APIError struct {
	// Status is the HTTP status of the final answer (after the SDK's own retries).
	Status int
	// Code is the OData error code (e.g. "NotFound", "InvalidAuthenticationToken") or, for a token failure, the
	// OAuth error (e.g. "invalid_grant").
	Code string
	// Message is the service's explanation. It never holds tokens; AADSTS messages carry trace ids only.
	Message string
	// RetryAfter is the delay the service asked for on 429/503, or 0.
	RetryAfter time.Duration
	// TokenError is true when the identity platform refused to issue a token, so Graph was never called.
	TokenError bool
}

func (e *APIError) Error() string {
	what := "graph"
	if e.TokenError {
		what = "token request"
	}
	msg := fmt.Sprintf("%s failed with status %d", what, e.Status)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" [retry after %s]", e.RetryAfter)
	}
	return msg
}

// IsNotFound reports a 404: the chat, message, user or subscription does not exist (any more).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsForbidden reports a 403: the app or user lacks a permission or consent.
func IsForbidden(err error) bool { return statusOf(err) == http.StatusForbidden }

// IsUnauthorized reports that the credentials were refused: a 401 from Graph, or the identity platform
// rejecting the client secret or the user's refresh token. The user must reconnect or the admin fix the secret.
func IsUnauthorized(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	if apiErr.TokenError {
		return apiErr.Status == http.StatusBadRequest || apiErr.Status == http.StatusUnauthorized
	}
	return apiErr.Status == http.StatusUnauthorized
}

// IsThrottled reports a 429 or 503 that outlasted the SDK's retries; RetryAfterOf says how long to wait.
func IsThrottled(err error) bool {
	s := statusOf(err)
	return s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable
}

// RetryAfterOf returns the Retry-After the service sent with err, or 0.
func RetryAfterOf(err error) time.Duration {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.RetryAfter
	}
	return 0
}

// StatusOf returns the HTTP status carried by err, or 0 when err did not come from an HTTP answer.
func StatusOf(err error) int { return statusOf(err) }

func statusOf(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	return 0
}

// wrapErr converts whatever the SDK, azidentity or x/oauth2 returned into an *APIError when it describes an
// HTTP answer, and adds context.
func wrapErr(err error, context string) error {
	if err == nil {
		return nil
	}
	if apiErr := toAPIError(err); apiErr != nil {
		return errors.Wrap(apiErr, context)
	}
	return errors.Wrap(err, context)
}

func toAPIError(err error) *APIError {
	var existing *APIError
	if errors.As(err, &existing) {
		return existing
	}

	var odataErr *odataerrors.ODataError
	if errors.As(err, &odataErr) {
		out := &APIError{Status: odataErr.GetStatusCode()}
		if main := odataErr.GetErrorEscaped(); main != nil {
			out.Code = deref(main.GetCode())
			out.Message = deref(main.GetMessage())
		}
		if h := odataErr.GetResponseHeaders(); h != nil {
			out.RetryAfter = parseRetryAfter(first(h.Get("Retry-After")), time.Now())
		}
		return out
	}

	var kiotaErr *abstractions.ApiError
	if errors.As(err, &kiotaErr) {
		out := &APIError{Status: kiotaErr.ResponseStatusCode, Message: kiotaErr.Message}
		if h := kiotaErr.ResponseHeaders; h != nil {
			out.RetryAfter = parseRetryAfter(first(h.Get("Retry-After")), time.Now())
		}
		return out
	}

	var azErr *azidentity.AuthenticationFailedError
	if errors.As(err, &azErr) && azErr.RawResponse != nil {
		out := &APIError{Status: azErr.RawResponse.StatusCode, TokenError: true}
		// The identity platform's body; azidentity has already read it into the error text, so parse only the
		// fields we keep rather than echoing the whole text.
		out.Code, out.Message = tokenErrorFromText(azErr.Error())
		return out
	}

	var oauthErr *oauth2.RetrieveError
	if errors.As(err, &oauthErr) && oauthErr.Response != nil {
		out := &APIError{Status: oauthErr.Response.StatusCode, Code: oauthErr.ErrorCode, TokenError: true}
		out.Message = firstLine(oauthErr.ErrorDescription)
		if out.Code == "" {
			var body struct {
				Error            string `json:"error"`
				ErrorDescription string `json:"error_description"`
			}
			if json.Unmarshal(oauthErr.Body, &body) == nil {
				out.Code, out.Message = body.Error, firstLine(body.ErrorDescription)
			}
		}
		return out
	}
	return nil
}

// tokenErrorFromText pulls the OAuth error and the AADSTS line out of azidentity's error text, which embeds the
// identity platform's JSON body.
func tokenErrorFromText(text string) (code, message string) {
	start := strings.Index(text, "{")
	end := strings.LastIndex(text, "}")
	if start < 0 || end <= start {
		return "", ""
	}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal([]byte(text[start:end+1]), &body) != nil {
		return "", ""
	}
	return body.Error, firstLine(body.ErrorDescription)
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// parseRetryAfter reads delta-seconds (possibly fractional, as Graph sometimes sends) or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
