package graphsim

import (
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is an injected failure for requests whose normalised route matches.
type Fault struct {
	ID string `json:"id,omitempty"`
	// Route is a normalised route such as "GET /chats/{id}/messages"; a trailing
	// "*" matches any suffix; empty matches every Graph and identity request.
	Route string `json:"route"`
	// Status to answer with (429, 503, 504, ...); 0 only delays.
	Status int `json:"status,omitempty"`
	// RetryAfter seconds, sent as Retry-After when > 0.
	RetryAfter int `json:"retryAfter,omitempty"`
	// Delay before answering (a slow answer; combined with Status or alone).
	Delay time.Duration `json:"-"`
	// Count limits how many requests the fault hits; 0 = unlimited.
	Count int `json:"count,omitempty"`
	// For limits how long the fault stays active from injection; 0 = forever.
	For time.Duration `json:"-"`

	until time.Time
	hits  int
}

// CallCount is one row of the Graph call counters.
type CallCount struct {
	Route string `json:"route"`
	Kind  string `json:"kind"` // app | delegated | none
	Count int    `json:"count"`
}

type callKey struct{ route, kind string }

type bucket struct {
	tokens float64
	last   time.Time
}

// traffic holds counters, faults and throttling buckets.
type traffic struct {
	mu       sync.Mutex
	throttle bool
	counts   map[callKey]int
	faults   []*Fault
	buckets  map[string]*bucket
	nextID   int
}

func newTraffic(throttle bool) *traffic {
	return &traffic{throttle: throttle, counts: map[callKey]int{}, buckets: map[string]*bucket{}}
}

// limit is one throttling dimension: a token bucket refilled at rate per
// second holding at most burst tokens.
type limit struct {
	dim   string // tenant | resource | user
	rate  float64
	burst float64
}

// limitsFor returns the documented Teams limits (graph-protocol.md §8) for a
// route. Per-app-per-tenant bursts are one second of rate; per-resource and
// per-user buckets hold a small burst so a normal fetch sequence passes.
func limitsFor(route string) []limit {
	if !strings.HasPrefix(route, "GET ") {
		if route == "POST /communications/getPresencesByUserId" {
			return []limit{{"tenant", 50, 1500}}
		}
		return nil
	}
	switch {
	case route == "GET /chats/{id}/messages":
		return []limit{{"tenant", 20, 20}, {"resource", 1, 1}}
	case route == "GET /chats/{id}":
		return []limit{{"tenant", 200, 200}, {"resource", 1, 2}, {"user", 5, 5}}
	case strings.HasSuffix(route, "/hostedContents/{id}/$value"):
		return []limit{{"tenant", 50, 60}, {"resource", 1, 1}}
	case strings.HasPrefix(route, "GET /users/{id}/chats/getAllMessages"):
		return []limit{{"tenant", 200, 200}}
	case route == "GET /teams/{id}/channels/getAllMessages":
		return []limit{{"tenant", 200, 200}}
	case strings.HasPrefix(route, "GET /teams/{id}/channels/{id}/messages"):
		// GET channel message (and replies): 20 rps per app per tenant, one request per second on a
		// given channel message.
		return []limit{{"tenant", 20, 20}, {"resource", 1, 2}}
	case strings.HasPrefix(route, "GET /teams/"):
		// GET team, channel, members, tags: 60 rps per app per tenant; 4 rps per app on a given team.
		return []limit{{"tenant", 60, 60}, {"team", 4, 4}}
	case strings.HasPrefix(route, "GET /chats/"), strings.HasPrefix(route, "GET /users/"),
		strings.HasPrefix(route, "GET /me"), strings.HasPrefix(route, "GET /communications/"):
		return []limit{{"tenant", 30, 30}, {"resource", 1, 2}, {"user", 1, 5}}
	}
	return nil
}

// admit charges one request against every dimension and returns the seconds
// to wait when any bucket is empty.
func (t *traffic) admit(route, resource string, tok TokenInfo, now time.Time) (retryAfter int, throttled bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.throttle {
		return 0, false
	}
	type charge struct {
		b *bucket
		l limit
	}
	var charges []charge
	for _, l := range limitsFor(route) {
		key := route + "|" + l.dim + "|"
		switch l.dim {
		case "tenant":
			key += tok.AppID + "|" + tok.TenantID
		case "resource":
			key += resource
		case "team":
			// The per-team limit spans every route under /teams/{id}.
			key = "team|" + teamOf(resource) + "|" + tok.AppID
		case "user":
			if tok.AppOnly {
				continue
			}
			key += tok.UserID
		}
		b, ok := t.buckets[key]
		if !ok {
			b = &bucket{tokens: l.burst, last: now}
			t.buckets[key] = b
		}
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
		if b.tokens < 1 {
			wait := int(math.Ceil((1 - b.tokens) / l.rate))
			if wait < 1 {
				wait = 1
			}
			if wait > retryAfter {
				retryAfter = wait
			}
			throttled = true
		}
		charges = append(charges, charge{b, l})
	}
	if throttled {
		return retryAfter, true
	}
	for _, c := range charges {
		c.b.tokens--
	}
	return 0, false
}

func (t *traffic) count(route, kind string) {
	t.mu.Lock()
	t.counts[callKey{route, kind}]++
	t.mu.Unlock()
}

// fault returns the first active fault matching route, consuming one hit.
func (t *traffic) fault(route string, now time.Time) *Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.faults {
		if !f.until.IsZero() && now.After(f.until) {
			continue
		}
		if f.Count > 0 && f.hits >= f.Count {
			continue
		}
		if !routeMatches(f.Route, route) {
			continue
		}
		f.hits++
		cp := *f
		return &cp
	}
	return nil
}

func routeMatches(pattern, route string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(route, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == route
}

// InjectFault adds a fault and returns its id.
func (s *Sim) InjectFault(f Fault) string {
	t := s.traffic
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	f.ID = "fault-" + strconv.Itoa(t.nextID)
	if f.For > 0 {
		f.until = s.now().Add(f.For)
	}
	t.faults = append(t.faults, &f)
	return f.ID
}

// RemoveFault deletes one fault.
func (s *Sim) RemoveFault(id string) {
	t := s.traffic
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, f := range t.faults {
		if f.ID == id {
			t.faults = append(t.faults[:i], t.faults[i+1:]...)
			return
		}
	}
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.traffic.mu.Lock()
	s.traffic.faults = nil
	s.traffic.mu.Unlock()
}

// SetThrottling turns the documented throttling limits on or off (and empties the buckets).
func (s *Sim) SetThrottling(on bool) {
	s.traffic.mu.Lock()
	s.traffic.throttle = on
	s.traffic.buckets = map[string]*bucket{}
	s.traffic.mu.Unlock()
}

// Calls returns the request counters by normalised route and token kind.
func (s *Sim) Calls() []CallCount {
	t := s.traffic
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]CallCount, 0, len(t.counts))
	for k, n := range t.counts {
		out = append(out, CallCount{Route: k.route, Kind: k.kind, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Route != out[j].Route {
			return out[i].Route < out[j].Route
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// CallCount sums the counters of one route over the given kinds (all kinds when none given).
func (s *Sim) CallCount(route string, kinds ...string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Route != route {
			continue
		}
		if len(kinds) == 0 {
			n += c.Count
			continue
		}
		for _, k := range kinds {
			if k == c.Kind {
				n += c.Count
			}
		}
	}
	return n
}

// GraphCalls is the total of Graph (/v1.0) calls, optionally of one token kind.
func (s *Sim) GraphCalls(kind string) int {
	n := 0
	for _, c := range s.Calls() {
		if strings.HasPrefix(c.Route, "GET /") || strings.HasPrefix(c.Route, "POST /") || strings.HasPrefix(c.Route, "PATCH /") || strings.HasPrefix(c.Route, "DELETE /") {
			if isIdentityRoute(c.Route) {
				continue
			}
			if kind == "" || kind == c.Kind {
				n += c.Count
			}
		}
	}
	return n
}

// ResetCalls zeroes the counters.
func (s *Sim) ResetCalls() {
	s.traffic.mu.Lock()
	s.traffic.counts = map[callKey]int{}
	s.traffic.mu.Unlock()
}

// teamOf is the team id of a /v1.0/teams/{id}/... path.
func teamOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) >= 3 && segs[1] == "teams" {
		return segs[2]
	}
	return path
}

func isIdentityRoute(route string) bool {
	return strings.Contains(route, "/{tenant}/") || strings.Contains(route, "/common/") || strings.Contains(route, "/personal/") ||
		strings.Contains(route, "/sites/")
}

// graphLiterals are path segments kept verbatim in route names; every other
// segment is an id.
var graphLiterals = map[string]bool{
	"chats": true, "messages": true, "members": true, "users": true, "me": true, "communications": true,
	"presences": true, "getPresencesByUserId": true, "hostedContents": true, "$value": true, "shares": true,
	"driveItem": true, "content": true, "$batch": true, "subscriptions": true, "reauthorize": true,
	"getAllMessages": true, "delta": true, "replies": true, "organization": true, "presence": true,
	"teams": true, "channels": true, "tags": true,
}

// routeName normalises a request to the route label used by counters and faults:
// Graph paths without /v1.0 and with ids replaced by {id}.
func routeName(method, escapedPath string) string {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	if len(segs) == 0 {
		return method + " /"
	}
	switch {
	case segs[0] == "v1.0":
		segs = segs[1:]
		for i, sg := range segs {
			sg = strings.TrimSuffix(sg, "()")
			segs[i] = sg
			switch {
			case graphLiterals[sg]:
			case strings.HasPrefix(sg, "applications("):
				segs[i] = "applications(appId={id})"
			default:
				segs[i] = "{id}"
			}
		}
	case segs[0] == "personal":
		return method + " /personal/{file}"
	case segs[0] == "sites":
		return method + " /sites/{file}"
	case segs[0] == "common":
	default:
		segs[0] = "{tenant}"
	}
	return method + " /" + strings.Join(segs, "/")
}

// middleware counts, injects faults, throttles and un-gzips request bodies.
func (s *Sim) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			next.ServeHTTP(w, r)
			return
		}
		if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				writeODataError(w, r, http.StatusBadRequest, "BadRequest", "Request body is not valid gzip.")
				return
			}
			r.Body = io.NopCloser(zr)
			r.Header.Del("Content-Encoding")
			r.ContentLength = -1
		}
		route := routeName(r.Method, r.URL.EscapedPath())
		tok, tokOK := s.peekToken(r)
		kind := "none"
		if tokOK {
			kind = tok.Kind()
		}
		s.traffic.count(route, kind)
		now := s.now()
		if f := s.traffic.fault(route, now); f != nil {
			if f.Delay > 0 {
				select {
				case <-time.After(f.Delay):
				case <-r.Context().Done():
					return
				}
			}
			if f.Status != 0 {
				if f.RetryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
				}
				code := "TooManyRequests"
				msg := "Too many requests."
				switch f.Status {
				case http.StatusServiceUnavailable:
					code, msg = "ServiceUnavailable", "The service is temporarily unavailable."
				case http.StatusGatewayTimeout:
					code, msg = "GatewayTimeout", "The gateway timed out."
				case http.StatusTooManyRequests:
				default:
					code, msg = http.StatusText(f.Status), "Injected fault."
				}
				writeODataError(w, r, f.Status, code, msg)
				return
			}
		}
		if tokOK && strings.HasPrefix(r.URL.Path, "/v1.0/") {
			if wait, throttled := s.traffic.admit(route, r.URL.Path, tok, now); throttled {
				w.Header().Set("Retry-After", strconv.Itoa(wait))
				writeODataError(w, r, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
