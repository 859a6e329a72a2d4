package metrics

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DBTracer returns a pgx.QueryTracer that counts and times every statement by query name. Set it as
// ConnConfig.Tracer of each pool (see the store's Options). The name comes from a leading comment
// ("-- name: ClaimInbox" or "/* ClaimInbox */"; other comments are skipped) when the statement has one, otherwise from the statement
// itself: its verb and the first plugin table (or pg_ function) it names, e.g. "select msteamsnotify_inbox".
// Arguments are never looked at.
func (m *Metrics) DBTracer() pgx.QueryTracer {
	if m == nil {
		return nil
	}
	return dbTracer{m}
}

type dbTracer struct{ m *Metrics }

type dbStartKey struct{}

type dbStart struct {
	name  string
	start time.Time
}

func (t dbTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, dbStartKey{}, dbStart{name: t.m.bound("query", QueryName(data.SQL)), start: time.Now()})
}

func (t dbTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, ok := ctx.Value(dbStartKey{}).(dbStart)
	if !ok {
		return
	}
	outcome := "ok"
	if data.Err != nil {
		outcome = "error"
	}
	t.m.dbQueries.WithLabelValues(st.name, outcome).Inc()
	t.m.dbDuration.WithLabelValues(st.name).Observe(time.Since(st.start).Seconds())
}

var (
	lineNameRe  = regexp.MustCompile(`^--\s*name:\s*([A-Za-z][A-Za-z0-9_.]*)`)
	blockNameRe = regexp.MustCompile(`^/\*\s*(?:name:\s*)?([A-Za-z][A-Za-z0-9_.]*)\s*\*/`)
	tableRe     = regexp.MustCompile(`(?i)\b(msteamsnotify_[a-z0-9_]+|pg_[a-z0-9_]+)`)
	verbRe      = regexp.MustCompile(`^[A-Za-z]+`)
)

// QueryName is the label a statement is counted under.
func QueryName(sql string) string {
	s := strings.TrimSpace(sql)
	if m := lineNameRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	if m := blockNameRe.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	// Skip leading comments that carry no name.
	for strings.HasPrefix(s, "--") || strings.HasPrefix(s, "/*") {
		if strings.HasPrefix(s, "--") {
			_, rest, _ := strings.Cut(s, "\n")
			s = strings.TrimSpace(rest)
		} else {
			_, rest, _ := strings.Cut(s, "*/")
			s = strings.TrimSpace(rest)
		}
	}
	verb := strings.ToLower(verbRe.FindString(s))
	if verb == "" {
		return "other"
	}
	if t := tableRe.FindString(s); t != "" {
		return verb + " " + strings.ToLower(t)
	}
	return verb
}
