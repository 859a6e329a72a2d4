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

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
)

// Why a file was not attached (store.AttachmentFile.Problem).
const (
	ProblemTooLarge      = "too_large"       // over Mattermost's MaxFileSize (or the plugin's bound for inline images)
	ProblemImageTooLarge = "image_too_large" // more pixels than Mattermost's MaxImageResolution
	ProblemForbidden     = "forbidden"       // Graph refused access (403), or no recipient's account could read it
	ProblemGone          = "gone"            // deleted in Teams/SharePoint (404)
	ProblemTooMany       = "too_many"        // beyond the 10 files a post can carry
	ProblemUnsupported   = "unsupported"     // a URL the plugin cannot fetch
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

// hostedContentRef splits a Graph .../chats/{c}/messages/{m}/hostedContents/{h}/$value URL.
func hostedContentRef(raw string) (chatID, messageID, hostedID string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", false
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+5 < len(segs); i++ {
		if segs[i] == "chats" && segs[i+2] == "messages" && segs[i+4] == "hostedContents" {
			c, err1 := url.PathUnescape(segs[i+1])
			m, err2 := url.PathUnescape(segs[i+3])
			h, err3 := url.PathUnescape(segs[i+5])
			if err1 != nil || err2 != nil || err3 != nil || c == "" || m == "" || h == "" {
				return "", "", "", false
			}
			return c, m, h, true
		}
	}
	return "", "", "", false
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
