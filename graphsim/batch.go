package graphsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// maxBatch is Graph's JSON batching cap.
const maxBatch = 20

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// serveBatch runs each inner request through the full handler (so inner
// requests are counted, throttled and faulted individually and can answer
// 429 inside a 200 batch), in order.
func (s *Sim) serveBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
		return
	}
	if len(body.Requests) == 0 || len(body.Requests) > maxBatch {
		writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Invalid batch payload format: the number of requests must be between 1 and 20.")
		return
	}
	status := map[string]int{}
	var responses []any
	for _, br := range body.Requests {
		failedDep := false
		for _, d := range br.DependsOn {
			if st, ok := status[d]; !ok || st >= 400 {
				failedDep = true
			}
		}
		if failedDep {
			status[br.ID] = http.StatusFailedDependency
			responses = append(responses, map[string]any{"id": br.ID, "status": http.StatusFailedDependency, "body": map[string]any{"error": map[string]any{"code": "FailedDependency", "message": "A dependent request failed."}}})
			continue
		}
		u := br.URL
		if !strings.HasPrefix(u, "/") {
			u = "/" + u
		}
		var rb *bytes.Reader
		if len(br.Body) > 0 {
			rb = bytes.NewReader(br.Body)
		} else {
			rb = bytes.NewReader(nil)
		}
		inner, err := http.NewRequestWithContext(r.Context(), strings.ToUpper(br.Method), "http://"+r.Host+"/v1.0"+u, rb)
		if err != nil {
			status[br.ID] = http.StatusBadRequest
			responses = append(responses, map[string]any{"id": br.ID, "status": http.StatusBadRequest, "body": map[string]any{"error": map[string]any{"code": "BadRequest", "message": "Invalid request URL."}}})
			continue
		}
		inner.Host = r.Host
		inner.RequestURI = inner.URL.RequestURI()
		inner.Header.Set("Authorization", r.Header.Get("Authorization"))
		for k, v := range br.Headers {
			inner.Header.Set(k, v)
		}
		if len(br.Body) > 0 && inner.Header.Get("Content-Type") == "" {
			inner.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, inner)
		status[br.ID] = rec.Code
		headers := map[string]string{}
		for k := range rec.Header() {
			headers[k] = rec.Header().Get(k)
		}
		item := map[string]any{"id": br.ID, "status": rec.Code, "headers": headers}
		if rec.Body.Len() > 0 {
			if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				item["body"] = json.RawMessage(bytes.TrimSpace(rec.Body.Bytes()))
			} else {
				item["body"] = base64.StdEncoding.EncodeToString(rec.Body.Bytes())
			}
		}
		responses = append(responses, item)
	}
	w.Header().Set("x-batch-count", strconv.Itoa(len(responses)))
	writeJSON(w, http.StatusOK, map[string]any{"responses": responses})
}
