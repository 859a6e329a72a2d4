package attach

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
)

// Why a file was not attached (store.AttachmentFile.Problem).
const (
	ProblemTooLarge      = "too_large"       // over Mattermost's MaxFileSize (or the plugin's bound for inline images)
	ProblemImageTooLarge = "image_too_large" // more pixels than Mattermost's MaxImageResolution
	ProblemForbidden     = "forbidden"       // Graph refused access (403)
	ProblemGone          = "gone"            // deleted in Teams/SharePoint (404)
	ProblemTooMany       = "too_many"        // beyond the 10 files a post can carry
	ProblemUnsupported   = "unsupported"     // a URL the plugin cannot fetch
	ProblemForeign       = "foreign"         // an inline image or snippet URL that is not this message's hosted content
	ProblemRefused       = "refused"         // Mattermost refused the upload
	ProblemFailed        = "failed"          // kept failing; given up after Options.GiveUpAfter attempts
)

// problemError is a file-level outcome: the file is named as not attached, the job goes on.
type problemError struct {
	problem string
	cause   error
}

func (e *problemError) Error() string {
	if e.cause == nil {
		return e.problem
	}
	return e.problem + ": " + e.cause.Error()
}

func problem(p string, cause error) error { return &problemError{problem: p, cause: cause} }

func problemOf(err error) (string, bool) {
	var p *problemError
	if errors.As(err, &p) {
		return p.problem, true
	}
	return "", false
}

// classifyGraph turns a Graph error about one file into a file problem, a throttling retry, or a plain
// (transient) error.
func (s *Service) classifyGraph(err error, what string) error {
	switch {
	case graph.IsThrottled(err):
		d := graph.RetryAfterOf(err)
		if d <= 0 {
			d = s.opt.ThrottleRetry
		}
		return inbox.RetryAfter(errors.Wrap(err, what), d)
	case graph.IsNotFound(err):
		return problem(ProblemGone, err)
	case graph.IsForbidden(err):
		return problem(ProblemForbidden, err)
	case graph.StatusOf(err) == 0 && strings.Contains(err.Error(), "exceeds the limit"):
		// The graph client refuses bodies over maxBytes with a plain error.
		return problem(ProblemTooLarge, err)
	}
	return errors.Wrap(err, what)
}

// ownHostedContent returns the hosted content id of an inline image or code snippet when its URL is exactly
// {Graph base URL}/{the job's message}/hostedContents/{id}/$value, the message being
// chats/{chat}/messages/{message} or teams/{team}/channels/{channel}/messages/{message} (…/{root}/replies/{message}
// for a reply). Hosted contents are fetched with the app-only token, which reads every chat and channel of the
// tenant: a message must not be able to pull another conversation's content (or send the request anywhere else)
// by naming it in its HTML. Anything else is ProblemForeign, logged once since the outcome is recorded.
func (s *Service) ownHostedContent(j Job, f format.FileRef) (string, error) {
	id, ok := hostedContentOf(f.URL, s.opt.GraphBaseURL(), j.hostedPrefix())
	if !ok {
		s.d.Logger.LogWarn("Not fetching a hosted content that is not this message's",
			"chat_id", j.ChatID, "message_id", j.MessageID, "kind", string(f.Kind))
		return "", problem(ProblemForeign, nil)
	}
	return id, nil
}

// hostedContent fetches the job's own hosted content id, from its chat or its channel.
func (s *Service) hostedContent(ctx context.Context, j Job, id string, maxBytes int64) (graph.HostedContent, error) {
	if c := j.Channel; c != nil {
		return s.d.App.GetChannelHostedContent(ctx, c.TeamID, c.ChannelID, c.RootID, j.MessageID, id, maxBytes)
	}
	return s.d.App.GetHostedContent(ctx, j.ChatID, j.MessageID, id, maxBytes)
}

// hostedContentOf is ownHostedContent's check, against the base URL base and the message path prefix, whose
// even elements are Graph's names (compared without case) and odd ones ids (compared exactly).
func hostedContentOf(raw, base string, prefix []string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	b, err := url.Parse(base)
	if err != nil || b.Host == "" || !strings.EqualFold(u.Scheme, b.Scheme) || !strings.EqualFold(u.Host, b.Host) {
		return "", false
	}
	segs, ok := pathSegments(u)
	baseSegs, baseOK := pathSegments(b)
	if !ok || !baseOK || len(segs) != len(baseSegs)+len(prefix)+3 {
		return "", false
	}
	for i, bs := range baseSegs {
		if !strings.EqualFold(segs[i], bs) {
			return "", false
		}
	}
	rest := segs[len(baseSegs):]
	for i, want := range prefix {
		name := i%2 == 0
		if name && !strings.EqualFold(rest[i], want) || !name && (want == "" || rest[i] != want) {
			return "", false
		}
	}
	tail := rest[len(prefix):]
	if !strings.EqualFold(tail[0], "hostedContents") || tail[2] != "$value" {
		return "", false
	}
	id := tail[1]
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\") {
		return "", false
	}
	return id, true
}

// pathSegments splits u's path into unescaped segments, so an escaped "/" stays inside its segment.
func pathSegments(u *url.URL) ([]string, bool) {
	p := strings.Trim(u.EscapedPath(), "/")
	if p == "" {
		return nil, true
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		v, err := url.PathUnescape(seg)
		if err != nil {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// content is a downloaded file: in memory up to Options.MemoryLimit, else spooled to a temporary file.
type content struct {
	data        []byte
	file        *os.File
	size        int64
	contentType string
}

// reader returns the content from its start.
func (c *content) reader() (io.Reader, error) {
	if c.file == nil {
		return bytes.NewReader(c.data), nil
	}
	if _, err := c.file.Seek(0, io.SeekStart); err != nil {
		return nil, errors.Wrap(err, "rewind spooled file")
	}
	return c.file, nil
}

// head returns up to n leading bytes (for image headers).
func (c *content) head(n int) []byte {
	if c.file == nil {
		if len(c.data) < n {
			return c.data
		}
		return c.data[:n]
	}
	buf := make([]byte, n)
	m, _ := c.file.ReadAt(buf, 0)
	return buf[:m]
}

func (c *content) close() {
	if c.file != nil {
		name := c.file.Name()
		_ = c.file.Close()
		_ = os.Remove(name)
	}
}

// spool reads r up to limit bytes: into memory when it fits memLimit, else into a temporary file. More than
// limit bytes is ProblemTooLarge; nothing larger than memLimit (plus one read buffer) is ever held in memory.
func spool(r io.Reader, limit, memLimit int64, dir string) (*content, error) {
	if memLimit > limit {
		memLimit = limit
	}
	buf, err := io.ReadAll(io.LimitReader(r, memLimit+1))
	if err != nil {
		return nil, errors.Wrap(err, "read download")
	}
	if int64(len(buf)) <= memLimit {
		return &content{data: buf, size: int64(len(buf))}, nil
	}
	f, err := os.CreateTemp(dir, "msteams-attachment-*")
	if err != nil {
		return nil, errors.Wrap(err, "create spool file")
	}
	c := &content{file: f}
	n, err := io.Copy(f, io.MultiReader(bytes.NewReader(buf), io.LimitReader(r, limit+1-int64(len(buf)))))
	if err != nil {
		c.close()
		return nil, errors.Wrap(err, "spool download")
	}
	if n > limit {
		c.close()
		return nil, problem(ProblemTooLarge, errors.Errorf("more than %d bytes", limit))
	}
	c.size = n
	return c, nil
}

// download fetches a pre-authenticated URL (no Graph token) into a content.
func (s *Service) download(ctx context.Context, downloadURL string, limit int64) (*content, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, downloadURL, nil)
	if err != nil {
		return nil, problem(ProblemUnsupported, errors.New("bad download URL"))
	}
	resp, err := s.d.Download.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is pre-authenticated: keep it out of errors
		}
		return nil, errors.Wrap(err, "download file")
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, problem(ProblemGone, errors.Errorf("download answered %d", resp.StatusCode))
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, problem(ProblemForbidden, errors.Errorf("download answered %d", resp.StatusCode))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		d := s.opt.ThrottleRetry
		if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
			d = time.Duration(secs) * time.Second
		}
		return nil, inbox.RetryAfter(errors.Errorf("download answered %d", resp.StatusCode), d)
	case resp.StatusCode >= 300:
		return nil, errors.Errorf("download answered %d", resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, problem(ProblemTooLarge, errors.Errorf("%d bytes", resp.ContentLength))
	}
	c, err := spool(resp.Body, limit, s.opt.MemoryLimit, s.opt.TempDir)
	if err != nil {
		return nil, err
	}
	c.contentType = resp.Header.Get("Content-Type")
	return c, nil
}
