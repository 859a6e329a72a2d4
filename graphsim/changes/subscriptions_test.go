package changes

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateValidatesBothEndpointsAndReturnsTheSubscription(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	body := h.subBodyFor(rcv)

	status, resp := h.create(t, "app", body)
	require.Equal(t, http.StatusCreated, status, resp)

	validations := rcv.drainValidations()
	require.Len(t, validations, 2, "notificationUrl and lifecycleNotificationUrl are both validated")
	assert.Equal(t, "/changes", validations[0].URL.Path)
	assert.Equal(t, "graph", validations[0].URL.Query().Get("src"), "the notificationUrl query string is kept")
	assert.Equal(t, "/lifecycle", validations[1].URL.Path)
	for _, v := range validations {
		assert.Equal(t, http.MethodPost, v.Method)
		assert.Equal(t, "text/plain; charset=utf-8", v.Header.Get("Content-Type"))
		assert.Contains(t, v.URL.Query().Get("validationToken"), " ", "the token needs URL-decoding")
	}

	assert.NotEmpty(t, resp["id"])
	assert.Equal(t, "/chats/getAllMessages", resp["resource"])
	assert.Equal(t, "created,updated,deleted", resp["changeType"])
	assert.Equal(t, "s3cret", resp["clientState"])
	assert.Equal(t, body["notificationUrl"], resp["notificationUrl"])
	assert.Equal(t, body["lifecycleNotificationUrl"], resp["lifecycleNotificationUrl"])
	assert.Equal(t, "2026-11-27T12:00:00.0000000Z", resp["expirationDateTime"])
	assert.Equal(t, appA, resp["applicationId"])
	assert.Equal(t, appA, resp["creatorId"])
	assert.Equal(t, false, resp["includeResourceData"])
	assert.Nil(t, resp["encryptionCertificateId"])
	assert.Equal(t, "v1_2", resp["latestSupportedTlsVersion"])
	assert.Contains(t, resp["@odata.context"], "/v1.0/$metadata#subscriptions/$entity")
}

func TestSameURLForBothEndpointsGetsTwoValidations(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	body := h.subBodyFor(rcv)
	body["lifecycleNotificationUrl"] = body["notificationUrl"]
	h.mustCreate(t, "app", body)
	assert.Len(t, rcv.drainValidations(), 2)
}

func TestHandshakeFailuresRejectTheSubscription(t *testing.T) {
	cases := map[string]struct {
		validate func(w http.ResponseWriter, r *http.Request, token string)
	}{
		"echo of the still-encoded token": {func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, strings.TrimPrefix(r.URL.RawQuery, "src=graph&validationToken="))
		}},
		"wrong token": {func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "hello")
		}},
		"token with a trailing newline": {func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token+"\n")
		}},
		"500": {func(w http.ResponseWriter, r *http.Request, token string) {
			w.WriteHeader(http.StatusInternalServerError)
		}},
		"202 instead of 200": {func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, token)
		}},
		"JSON content type": {func(w http.ResponseWriter, r *http.Request, token string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, token)
		}},
		"timeout": {func(w http.ResponseWriter, r *http.Request, token string) {
			<-r.Context().Done() // never answers; the emulator gives up after HandshakeTimeout
		}},
		"only the lifecycle URL failing": {func(w http.ResponseWriter, r *http.Request, token string) {
			if r.URL.Path == "/lifecycle" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, token)
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			s := h.m.Settings()
			s.HandshakeTimeout = 200 * time.Millisecond
			h.m.SetSettings(s)
			rcv := newReceiver(t)
			rcv.setValidate(tc.validate)

			status, resp := h.create(t, "app", h.subBodyFor(rcv))

			require.Equal(t, http.StatusBadRequest, status)
			code, msg := errorOf(t, resp)
			assert.Equal(t, "InvalidRequest", code)
			assert.Equal(t, "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.", msg)
			_, list := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions", nil)
			assert.Empty(t, list["value"], "no subscription is created")
			assert.Equal(t, int64(1), h.m.Stats().HandshakeFailures)
		})
	}
}

func TestSubscriptionRules(t *testing.T) {
	cases := map[string]struct {
		token      string
		edit       func(h *harness, b map[string]any)
		wantStatus int
		wantCode   string
		wantMsg    string
		wantExpiry string
	}{
		"expiry under 45 minutes is silently raised": {
			edit:       func(h *harness, b map[string]any) { b["expirationDateTime"] = h.in(10 * time.Minute) },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T10:45:00.0000000Z",
		},
		"expiry in the past is raised too": {
			edit:       func(h *harness, b map[string]any) { b["expirationDateTime"] = h.in(-time.Hour) },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T10:45:00.0000000Z",
		},
		"exactly 4320 minutes is allowed": {
			edit:       func(h *harness, b map[string]any) { b["expirationDateTime"] = h.in(4320 * time.Minute) },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-30T10:00:00.0000000Z",
		},
		"beyond 4320 minutes": {
			edit:       func(h *harness, b map[string]any) { b["expirationDateTime"] = h.in(4321 * time.Minute) },
			wantStatus: http.StatusBadRequest, wantCode: "ExtensionError",
			wantMsg: "Subscription expiration can only be 4320 minutes in the future.",
		},
		"over an hour needs a lifecycle URL": {
			edit:       func(h *harness, b map[string]any) { delete(b, "lifecycleNotificationUrl") },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
			wantMsg: "lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour",
		},
		"an hour or less without a lifecycle URL": {
			edit: func(h *harness, b map[string]any) {
				delete(b, "lifecycleNotificationUrl")
				b["expirationDateTime"] = h.in(time.Hour)
			},
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T11:00:00.0000000Z",
		},
		"offset timestamps are understood": {
			edit:       func(h *harness, b map[string]any) { b["expirationDateTime"] = "2026-11-27T13:00:00.1234567+02:00" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T11:00:00.1234567Z",
		},
		"unknown changeType": {
			edit:       func(h *harness, b map[string]any) { b["changeType"] = "created,missed" },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"missing changeType": {
			edit:       func(h *harness, b map[string]any) { delete(b, "changeType") },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"missing notificationUrl": {
			edit:       func(h *harness, b map[string]any) { delete(b, "notificationUrl") },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"relative notificationUrl": {
			edit:       func(h *harness, b map[string]any) { b["notificationUrl"] = "/changes" },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"missing expiration": {
			edit:       func(h *harness, b map[string]any) { delete(b, "expirationDateTime") },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"clientState of 128 characters": {
			edit:       func(h *harness, b map[string]any) { b["clientState"] = strings.Repeat("x", 128) },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
		"clientState of 129 characters": {
			edit:       func(h *harness, b map[string]any) { b["clientState"] = strings.Repeat("x", 129) },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"model=B is accepted and ignored": {
			edit:       func(h *harness, b map[string]any) { b["resource"] = "/chats/getAllMessages?model=B" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
		"model=A is accepted and ignored": {
			edit:       func(h *harness, b map[string]any) { b["resource"] = "chats/getAllMessages?model=A" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
		"unsupported resource": {
			edit:       func(h *harness, b map[string]any) { b["resource"] = "/teams/getAllMessages/delta" },
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"includeResourceData without a certificate": {
			edit: func(h *harness, b map[string]any) {
				b["includeResourceData"] = true
				b["encryptionCertificateId"] = "k1"
			},
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"includeResourceData with a certificate that is not one": {
			edit: func(h *harness, b map[string]any) {
				b["includeResourceData"] = true
				b["encryptionCertificateId"] = "k1"
				b["encryptionCertificate"] = "bm90IGEgY2VydA=="
			},
			wantStatus: http.StatusBadRequest, wantCode: "InvalidRequest",
		},
		"tenant-wide resource without Chat.Read.All": {
			token:      "app-noroles",
			wantStatus: http.StatusForbidden,
		},
		"tenant-wide resource with a delegated token": {
			token:      "user",
			wantStatus: http.StatusForbidden,
		},
		"a user's chats, app-only with Chat.ReadWrite.All": {
			token:      "app-rw",
			edit:       func(h *harness, b map[string]any) { b["resource"] = "/users/" + userU + "/chats/getAllMessages" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
		"own chats, delegated": {
			token:      "user",
			edit:       func(h *harness, b map[string]any) { b["resource"] = "/users/" + userU + "/chats/getAllMessages" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
		"someone else's chats, delegated": {
			token:      "user",
			edit:       func(h *harness, b map[string]any) { b["resource"] = "/users/someone-else/chats/getAllMessages" },
			wantStatus: http.StatusForbidden,
		},
		"one chat, percent-encoded as the Go SDK does": {
			edit:       func(h *harness, b map[string]any) { b["resource"] = "/chats/" + url.PathEscape(chat1) + "/messages" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
		"one chat, OData key syntax": {
			edit:       func(h *harness, b map[string]any) { b["resource"] = "chats('" + chat1 + "')/messages" },
			wantStatus: http.StatusCreated, wantExpiry: "2026-11-27T12:00:00.0000000Z",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			rcv := newReceiver(t)
			body := h.subBodyFor(rcv)
			if tc.edit != nil {
				tc.edit(h, body)
			}
			token := tc.token
			if token == "" {
				token = "app"
			}
			status, resp := h.create(t, token, body)
			require.Equal(t, tc.wantStatus, status, resp)
			if tc.wantStatus != http.StatusCreated {
				code, msg := errorOf(t, resp)
				if tc.wantCode != "" {
					assert.Equal(t, tc.wantCode, code)
				}
				if tc.wantMsg != "" {
					assert.Equal(t, tc.wantMsg, msg)
				}
				assert.Empty(t, rcv.drainValidations(), "invalid requests are refused before any handshake")
				return
			}
			assert.Equal(t, tc.wantExpiry, resp["expirationDateTime"])
			assert.Equal(t, body["resource"], resp["resource"], "the resource is echoed as sent")
		})
	}
}

func TestMissingBearerIs401(t *testing.T) {
	h := newHarness(t)
	status, resp := h.call(t, "nobody", http.MethodGet, "/v1.0/subscriptions", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	code, _ := errorOf(t, resp)
	assert.Equal(t, "InvalidAuthenticationToken", code)
}

func TestDuplicateResourceAndChangeTypeIs409(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))

	status, resp := h.create(t, "app", h.subBodyFor(rcv))
	require.Equal(t, http.StatusConflict, status)
	_, msg := errorOf(t, resp)
	assert.Equal(t, "Subscription Id "+id+" already exists for the requested combination", msg)

	other := h.subBodyFor(rcv)
	other["changeType"] = "created"
	h.mustCreate(t, "app", other) // another changeType is another combination
	h.mustCreate(t, "app2", h.subBodyFor(rcv))
}

func TestTenantQuotaIs403(t *testing.T) {
	h := newHarness(t)
	s := h.m.Settings()
	s.QuotaPerTenant = 2
	h.m.SetSettings(s)
	rcv := newReceiver(t)
	for _, chat := range []string{chat1, chat2} {
		b := h.subBodyFor(rcv)
		b["resource"] = "/chats/" + chat + "/messages"
		h.mustCreate(t, "app", b)
	}
	status, resp := h.create(t, "app2", h.subBodyFor(rcv))
	require.Equal(t, http.StatusForbidden, status)
	errorOf(t, resp)
	h.mustCreate(t, "appB", h.subBodyFor(rcv)) // the quota is per tenant

	h.clock.Advance(2*time.Hour + time.Second)
	h.mustCreate(t, "app2", h.subBodyFor(rcv)) // expired ones no longer count
}

func TestExpiredSubscriptionIsGone(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	body := h.subBodyFor(rcv)
	body["expirationDateTime"] = h.in(50 * time.Minute)
	id := h.mustCreate(t, "app", body)

	status, _ := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions/"+id, nil)
	require.Equal(t, http.StatusOK, status)

	h.clock.Advance(50 * time.Minute)
	for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
		status, resp := h.call(t, "app", method, "/v1.0/subscriptions/"+id, map[string]any{"expirationDateTime": h.in(time.Hour)})
		assert.Equal(t, http.StatusNotFound, status, method)
		errorOf(t, resp)
	}
	status, _ = h.call(t, "app", http.MethodPost, "/v1.0/subscriptions/"+id+"/reauthorize", nil)
	assert.Equal(t, http.StatusNotFound, status)
	h.mustCreate(t, "app", h.subBodyFor(rcv)) // and it no longer blocks a new one
}

func TestPatch(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id := h.mustCreate(t, "app", h.subBodyFor(rcv))
	path := "/v1.0/subscriptions/" + id
	rcv.drainValidations()

	t.Run("renews the expiry", func(t *testing.T) {
		status, resp := h.call(t, "app", http.MethodPatch, path, map[string]any{"expirationDateTime": h.in(3 * time.Hour)})
		require.Equal(t, http.StatusOK, status, resp)
		assert.Equal(t, "2026-11-27T13:00:00.0000000Z", resp["expirationDateTime"])
		_, got := h.call(t, "app", http.MethodGet, path, nil)
		assert.Equal(t, "2026-11-27T13:00:00.0000000Z", got["expirationDateTime"])
	})
	t.Run("applies the ceiling", func(t *testing.T) {
		status, resp := h.call(t, "app", http.MethodPatch, path, map[string]any{"expirationDateTime": h.in(5000 * time.Minute)})
		require.Equal(t, http.StatusBadRequest, status)
		code, msg := errorOf(t, resp)
		assert.Equal(t, "ExtensionError", code)
		assert.Equal(t, "Subscription expiration can only be 4320 minutes in the future.", msg)
	})
	t.Run("moves the notificationUrl after validating it", func(t *testing.T) {
		other := newReceiver(t)
		status, resp := h.call(t, "app", http.MethodPatch, path, map[string]any{"notificationUrl": other.URL() + "/moved"})
		require.Equal(t, http.StatusOK, status, resp)
		assert.Equal(t, other.URL()+"/moved", resp["notificationUrl"])
		assert.Len(t, other.drainValidations(), 1)
	})
	t.Run("refuses a notificationUrl that fails validation", func(t *testing.T) {
		bad := newReceiver(t)
		bad.setValidate(func(w http.ResponseWriter, r *http.Request, token string) { w.WriteHeader(http.StatusForbidden) })
		status, resp := h.call(t, "app", http.MethodPatch, path, map[string]any{"notificationUrl": bad.URL() + "/x"})
		require.Equal(t, http.StatusBadRequest, status)
		_, msg := errorOf(t, resp)
		assert.Contains(t, msg, "Subscription validation request failed")
		_, got := h.call(t, "app", http.MethodGet, path, nil)
		assert.NotContains(t, got["notificationUrl"], bad.URL(), "a failed PATCH changes nothing")
	})
	t.Run("rotates the encryption certificate", func(t *testing.T) {
		status, resp := h.call(t, "app", http.MethodPatch, path, map[string]any{
			"encryptionCertificate": certB64(), "encryptionCertificateId": "key-2", "includeResourceData": true,
		})
		require.Equal(t, http.StatusOK, status, resp)
		assert.Equal(t, "key-2", resp["encryptionCertificateId"])
		assert.Equal(t, true, resp["includeResourceData"])
	})
	t.Run("cannot change the resource", func(t *testing.T) {
		status, _ := h.call(t, "app", http.MethodPatch, path, map[string]any{"resource": "/chats/" + chat1 + "/messages"})
		assert.Equal(t, http.StatusBadRequest, status)
	})
	t.Run("is invisible to other apps", func(t *testing.T) {
		status, _ := h.call(t, "app2", http.MethodPatch, path, map[string]any{"expirationDateTime": h.in(2 * time.Hour)})
		assert.Equal(t, http.StatusNotFound, status)
	})
}

func TestPatchCannotAddALifecycleURL(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	body := h.subBodyFor(rcv)
	delete(body, "lifecycleNotificationUrl")
	body["expirationDateTime"] = h.in(time.Hour)
	id := h.mustCreate(t, "app", body)
	path := "/v1.0/subscriptions/" + id

	status, resp := h.call(t, "app", http.MethodPatch, path, map[string]any{
		"lifecycleNotificationUrl": rcv.URL() + "/lifecycle", "expirationDateTime": h.in(2 * time.Hour),
	})
	require.Equal(t, http.StatusBadRequest, status)
	errorOf(t, resp)

	status, resp = h.call(t, "app", http.MethodPatch, path, map[string]any{"expirationDateTime": h.in(2 * time.Hour)})
	require.Equal(t, http.StatusBadRequest, status, "without a lifecycle URL it cannot be renewed past an hour")
	_, msg := errorOf(t, resp)
	assert.Contains(t, msg, "lifecycleNotificationUrl")

	status, _ = h.call(t, "app", http.MethodPatch, path, map[string]any{"expirationDateTime": h.in(55 * time.Minute)})
	assert.Equal(t, http.StatusOK, status)
}

func TestListDeleteAndReauthorize(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	id1 := h.mustCreate(t, "app", h.subBodyFor(rcv))
	b := h.subBodyFor(rcv)
	b["resource"] = "/chats/" + chat1 + "/messages"
	id2 := h.mustCreate(t, "app", b)
	h.mustCreate(t, "app2", h.subBodyFor(rcv))
	h.mustCreate(t, "appB", h.subBodyFor(rcv))

	status, list := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions", nil)
	require.Equal(t, http.StatusOK, status)
	var ids []string
	for _, v := range list["value"].([]any) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	assert.Equal(t, []string{id1, id2}, ids, "only this app's subscriptions in this tenant")

	status, resp := h.call(t, "app", http.MethodPost, "/v1.0/subscriptions/"+id1+"/reauthorize", nil)
	assert.Equal(t, http.StatusOK, status, resp)
	_, got := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions/"+id1, nil)
	assert.Equal(t, "2026-11-27T12:00:00.0000000Z", got["expirationDateTime"], "reauthorize does not extend")

	status, _ = h.call(t, "app", http.MethodDelete, "/v1.0/subscriptions/"+id1, nil)
	assert.Equal(t, http.StatusNoContent, status)
	status, _ = h.call(t, "app", http.MethodGet, "/v1.0/subscriptions/"+id1, nil)
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = h.call(t, "app", http.MethodDelete, "/v1.0/subscriptions/"+id1, nil)
	assert.Equal(t, http.StatusNotFound, status)
	_, list = h.call(t, "app", http.MethodGet, "/v1.0/subscriptions", nil)
	assert.Len(t, list["value"], 1)
}

func TestListIsPagedWithAbsoluteNextLinks(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	s := h.m.Settings()
	s.HandshakeTimeout = 2 * time.Second
	h.m.SetSettings(s)
	for i := 0; i < listPageSize+3; i++ {
		b := h.subBodyFor(rcv)
		b["resource"] = "/chats/19:c" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "@thread.v2/messages"
		b["changeType"] = []string{"created", "updated", "deleted", "created,updated"}[i/26%4]
		h.mustCreate(t, "app", b)
	}
	_, page1 := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions", nil)
	assert.Len(t, page1["value"], listPageSize)
	next, ok := page1["@odata.nextLink"].(string)
	require.True(t, ok)
	require.True(t, strings.HasPrefix(next, h.api.URL+"/v1.0/subscriptions?"))
	_, page2 := h.call(t, "app", http.MethodGet, strings.TrimPrefix(next, h.api.URL), nil)
	assert.Len(t, page2["value"], 3)
	assert.Nil(t, page2["@odata.nextLink"])
}

func TestGzipRequestBodiesAreAccepted(t *testing.T) {
	h := newHarness(t)
	rcv := newReceiver(t)
	raw, err := json.Marshal(h.subBodyFor(rcv))
	require.NoError(t, err)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(raw)
	require.NoError(t, zw.Close())
	req, err := http.NewRequest(http.MethodPost, h.api.URL+"/v1.0/subscriptions", &zipped)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer app")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
}

func TestSubscriptionListThrottling(t *testing.T) {
	h := newHarness(t)
	s := h.m.Settings()
	s.Throttle = true
	h.m.SetSettings(s)
	for i := range 25 {
		status, _ := h.call(t, "app", http.MethodGet, "/v1.0/subscriptions", nil)
		require.Equal(t, http.StatusOK, status, "call %d", i)
	}
	h.clock.Advance(5 * time.Second)
	req, err := http.NewRequest(http.MethodGet, h.api.URL+"/v1.0/subscriptions", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer app")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "25 lists per 20 s per app per tenant")
	assert.Equal(t, "15", resp.Header.Get("Retry-After"))

	status, _ := h.call(t, "app2", http.MethodGet, "/v1.0/subscriptions", nil)
	assert.Equal(t, http.StatusOK, status, "another app has its own budget")
	h.clock.Advance(15 * time.Second)
	status, _ = h.call(t, "app", http.MethodGet, "/v1.0/subscriptions", nil)
	assert.Equal(t, http.StatusOK, status, "the window has passed")
}
