package attach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif" // decoders for the resolution check
	_ "image/jpeg"
	_ "image/png"
	"mime"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// accessParallel bounds the access checks of one shared file that run at once (one per recipient).
const accessParallel = 4

// access is what one recipient's own Microsoft account may do with a shared file. The zero value is no answer.
type access int

const (
	accessGranted   access = iota + 1 // the recipient's token read the file's metadata
	accessDenied                      // Graph refused it for this recipient (403, or 404 as it answers for items one cannot read)
	accessNoAccount                   // not connected, or the token cannot be used
	accessFailed                      // kept failing for a transient reason; given up after Options.GiveUpAfter attempts
)

// fileResult is one file of the job: its outcome for the message and, for a shared file, each pending
// recipient's access (nil for inline images and snippets, which belong to the message and so to every member).
type fileResult struct {
	store.AttachmentFile
	kind   format.FileKind
	access map[string]access
}

// attachedFor says whether recipient mmUserID gets f's file.
func (f fileResult) attachedFor(mmUserID string) bool {
	return f.FileID != "" && (f.access == nil || f.access[mmUserID] == accessGranted)
}

// sharedItem is a shared file as a recipient with access saw it, and that recipient's channel for the upload.
type sharedItem struct {
	item      graph.DriveItem
	channelID string
}

// limits are Mattermost's file settings at the time of the job.
type limits struct {
	maxFileSize        int64
	maxImageResolution int64
}

func (s *Service) limits() limits {
	l := limits{maxFileSize: 100 << 20, maxImageResolution: 7680 * 4320}
	if cfg := s.d.Mattermost.GetConfig(); cfg != nil {
		if v := cfg.FileSettings.MaxFileSize; v != nil && *v > 0 {
			l.maxFileSize = *v
		}
		if v := cfg.FileSettings.MaxImageResolution; v != nil && *v > 0 {
			l.maxImageResolution = *v
		}
	}
	return l
}

// Process implements inbox.Handler for QueueAttachments.
func (s *Service) Process(ctx context.Context, job inbox.Job) error {
	var j Job
	if err := job.Decode(&j); err != nil {
		return inbox.Park(err)
	}
	if j.ChatID == "" || j.MessageID == "" {
		return inbox.Park(errors.New("attachment job without chat or message id"))
	}
	targets := uniqueTargets(j.Targets)
	if len(targets) == 0 || len(j.Files) == 0 {
		return nil
	}
	unlock, ok, err := s.d.Store.TryAttachmentLock(ctx, j.ChatID, j.MessageID)
	if err != nil {
		return err
	}
	if !ok {
		return inbox.RetryAfter(errors.New("another worker is handling this message's attachments"), s.opt.BusyRetry)
	}
	defer unlock()

	posts, err := s.d.Store.GetAttachmentPosts(ctx, j.ChatID, j.MessageID)
	if err != nil {
		return err
	}
	var pending []Target
	retried := map[string]bool{}
	for _, t := range targets {
		p, ok := posts[t.MMUserID]
		switch {
		case ok && p.State == store.AttachmentPostPosted:
			continue
		case ok:
			// Reserved by an attempt that did not finish: the post may exist.
			found, err := s.findFollowUp(j, t)
			if err != nil {
				return err
			}
			if found != "" {
				if err := s.d.Store.MarkAttachmentPosted(ctx, j.ChatID, j.MessageID, t.MMUserID, found); err != nil {
					return err
				}
				continue
			}
			retried[t.MMUserID] = true
		}
		pending = append(pending, t)
	}
	if len(pending) == 0 {
		return nil
	}

	files, err := s.resolveFiles(ctx, j, pending, job.Attempts)
	if err != nil {
		return err
	}
	var firstErr error
	for _, t := range pending {
		if err := s.postFollowUp(ctx, j, t, files, retried[t.MMUserID]); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func uniqueTargets(ts []Target) []Target {
	seen := map[string]bool{}
	var out []Target
	for _, t := range ts {
		if t.MMUserID == "" || t.ChannelID == "" || seen[t.MMUserID] {
			continue
		}
		seen[t.MMUserID] = true
		out = append(out, t)
	}
	return out
}

// fileKey identifies a file within its message.
func fileKey(f format.FileRef) string {
	sum := sha256.Sum256([]byte(string(f.Kind) + "\x00" + f.URL))
	return hex.EncodeToString(sum[:])
}

// resolveFiles returns the outcome of every file of j, in order: recorded ones as they are, the others fetched,
// uploaded (into a pending target's channel) and recorded now. Shared files are checked with every pending
// recipient's own token, and fetched only when one of them may read it.
func (s *Service) resolveFiles(ctx context.Context, j Job, pending []Target, attempt int) ([]fileResult, error) {
	saved, err := s.d.Store.GetAttachmentFiles(ctx, j.ChatID, j.MessageID)
	if err != nil {
		return nil, err
	}
	lim := s.limits()
	out := make([]fileResult, 0, len(j.Files))
	attached, images := 0, 0
	for _, f := range j.Files {
		if f.Kind == format.FileHostedContent {
			images++
		}
		key := fileKey(f)
		rec, ok := saved[key]
		res := fileResult{kind: f.Kind}
		tooMany := !ok && f.Kind != format.FileCodeSnippet && attached >= MaxFilesPerPost
		var shared *sharedItem
		// A file recorded with a problem is the same for everyone; otherwise each recipient's rights decide.
		if f.Kind == format.FileReference && !tooMany && (!ok || rec.FileID != "") {
			var err error
			if res.access, shared, err = s.checkAccess(ctx, j, f.URL, pending, attempt); err != nil {
				return nil, err
			}
			if !ok && shared == nil {
				// Nobody here may read it: nothing to record, since another job of the message may name
				// recipients who can.
				res.AttachmentFile = store.AttachmentFile{ChatID: j.ChatID, MessageID: j.MessageID, FileKey: key, Name: defaultName(f, images, "")}
				out = append(out, res)
				continue
			}
		}
		if !ok {
			rec = store.AttachmentFile{ChatID: j.ChatID, MessageID: j.MessageID, FileKey: key, Name: defaultName(f, images, "")}
			if tooMany {
				rec.Problem = ProblemTooMany
			} else if err := s.resolve(ctx, j, f, images, pending, shared, lim, &rec); err != nil {
				p, isProblem := problemOf(err)
				// A worker being stopped is no reason to give up on a file.
				if !isProblem && attempt >= s.opt.GiveUpAfter && !isRetryAfter(err) && ctx.Err() == nil {
					s.d.Logger.LogWarn("Giving up on a Teams attachment", "chat_id", j.ChatID, "message_id", j.MessageID, "error", err.Error())
					p, isProblem = ProblemFailed, true
				}
				if !isProblem {
					return nil, err
				}
				rec.Problem, rec.FileID, rec.Snippet = p, "", ""
			}
			if rec, err = s.d.Store.SaveAttachmentFile(ctx, rec); err != nil {
				return nil, err
			}
			s.d.Metrics.FileResolved(string(f.Kind), rec.Problem)
			saved[key] = rec
		}
		if rec.FileID != "" {
			attached++
		}
		res.AttachmentFile = rec
		out = append(out, res)
	}
	return out, nil
}

func isRetryAfter(err error) bool {
	_, ok := inbox.RetryAfterOf(err)
	return ok
}

// resolve fetches one file and uploads it (or, for a snippet, keeps its text) into rec. A shared file is
// fetched as shared says, the item a recipient with access resolved.
func (s *Service) resolve(ctx context.Context, j Job, f format.FileRef, imageNo int, pending []Target, shared *sharedItem, lim limits, rec *store.AttachmentFile) error {
	switch f.Kind {
	case format.FileCodeSnippet:
		hostedID, err := s.ownHostedContent(j, f)
		if err != nil {
			return err
		}
		hc, err := s.hostedContent(ctx, j, hostedID, s.opt.MaxSnippetBytes)
		if err != nil {
			return s.classifyGraph(err, "get code snippet")
		}
		rec.Snippet, rec.Language = strings.ToValidUTF8(string(hc.Data), "\uFFFD"), f.Language
		return nil

	case format.FileHostedContent:
		hostedID, err := s.ownHostedContent(j, f)
		if err != nil {
			return err
		}
		maxBytes := min(s.opt.MaxHostedBytes, lim.maxFileSize)
		hc, err := s.hostedContent(ctx, j, hostedID, maxBytes)
		if err != nil {
			return s.classifyGraph(err, "get hosted content")
		}
		c := &content{data: hc.Data, size: int64(len(hc.Data)), contentType: hc.ContentType}
		rec.Name = defaultName(f, imageNo, hc.ContentType)
		return s.upload(ctx, c, pending[0].ChannelID, lim, rec)

	case format.FileReference:
		if shared == nil {
			return problem(ProblemForbidden, errors.New("no recipient may read the file"))
		}
		item := shared.item
		if item.Size > lim.maxFileSize {
			return problem(ProblemTooLarge, errors.Errorf("%d bytes", item.Size))
		}
		if item.DownloadURL == "" {
			return problem(ProblemUnsupported, errors.New("no download URL"))
		}
		c, err := s.download(ctx, item.DownloadURL, lim.maxFileSize)
		if err != nil {
			return err
		}
		defer c.close()
		if c.contentType == "" {
			c.contentType = item.MimeType
		}
		rec.Name = cleanName(firstNonEmpty(f.Name, item.Name, "file"))
		// Uploaded into the channel of a recipient who may read it, so the original is never in a channel of
		// someone who may not.
		return s.upload(ctx, c, shared.channelID, lim, rec)
	}
	return problem(ProblemUnsupported, errors.Errorf("unknown file kind %q", f.Kind))
}

// checkAccess asks Graph, with each pending recipient's own delegated token, whether that recipient may read a
// shared file: one metadata call each, a few at once. It returns every recipient's access and the item as the
// first recipient (in job order) with access saw it, or nil when none may read it. Throttling fails the job
// with its Retry-After; other transient failures fail it too until Options.GiveUpAfter, from which the
// recipients concerned are told the file could not be downloaded.
func (s *Service) checkAccess(ctx context.Context, j Job, shareURL string, pending []Target, attempt int) (map[string]access, *sharedItem, error) {
	type answer struct {
		item graph.DriveItem
		err  error
	}
	answers := make([]answer, len(pending))
	sem := make(chan struct{}, accessParallel)
	var wg sync.WaitGroup
	for i, t := range pending {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var item graph.DriveItem
			err := s.d.Users.CallGraph(ctx, t.MMUserID, func(ctx context.Context, c *graph.Client) error {
				var err error
				item, err = c.GetDriveItemByShareURL(ctx, shareURL)
				return err
			})
			answers[i] = answer{item: item, err: err}
		}()
	}
	wg.Wait()

	out := make(map[string]access, len(pending))
	var shared *sharedItem
	var transient error
	for i, t := range pending {
		acc, err := s.accessOf(answers[i].err)
		switch {
		case err == nil:
			out[t.MMUserID] = acc
			if acc == accessGranted && shared == nil {
				shared = &sharedItem{item: answers[i].item, channelID: t.ChannelID}
			}
		case isRetryAfter(err):
			return nil, nil, err
		default:
			out[t.MMUserID] = accessFailed
			if transient == nil {
				transient = err
			}
		}
	}
	if transient != nil {
		// A worker being stopped is no reason to give up on anyone.
		if attempt < s.opt.GiveUpAfter || ctx.Err() != nil {
			return nil, nil, transient
		}
		s.d.Logger.LogWarn("Giving up on checking access to a shared Teams file for some recipients",
			"chat_id", j.ChatID, "message_id", j.MessageID, "error", transient.Error())
	}
	return out, shared, nil
}

// accessOf reads one recipient's metadata answer: an access, or an error when the answer says nothing about
// access (throttling, Graph unreachable or failing).
func (s *Service) accessOf(err error) (access, error) {
	if err == nil {
		return accessGranted, nil
	}
	if graph.IsThrottled(err) {
		return 0, s.classifyGraph(err, "check access to shared file")
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, errors.Wrap(err, "check access to shared file")
	}
	switch status := graph.StatusOf(err); {
	case status == 0, status == http.StatusUnauthorized:
		// Not a Graph answer about the file: the recipient's account cannot be used (UserGraph's contract),
		// or Graph refused the token itself.
		return accessNoAccount, nil
	case status >= 400 && status < 500:
		return accessDenied, nil
	}
	return 0, errors.Wrap(err, "check access to shared file")
}

// upload checks c against Mattermost's limits and uploads it once, rate-limited, into channelID.
func (s *Service) upload(ctx context.Context, c *content, channelID string, lim limits, rec *store.AttachmentFile) error {
	if c.size > lim.maxFileSize {
		return problem(ProblemTooLarge, errors.Errorf("%d bytes", c.size))
	}
	if c.size == 0 {
		return problem(ProblemUnsupported, errors.New("empty file"))
	}
	// Mattermost refuses images with more pixels than MaxImageResolution; say so instead of failing.
	// The header is enough for DecodeConfig; 256 KiB also covers a JPEG's EXIF segments before its frame header.
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(c.head(256 << 10))); err == nil {
		if int64(cfg.Width)*int64(cfg.Height) > lim.maxImageResolution {
			return problem(ProblemImageTooLarge, errors.Errorf("%dx%d pixels", cfg.Width, cfg.Height))
		}
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return errors.Wrap(err, "wait for upload slot")
	}
	var info *model.FileInfo
	if c.file == nil {
		var appErr *model.AppError
		info, appErr = s.d.Mattermost.UploadFile(c.data, channelID, rec.Name)
		if appErr != nil {
			return classifyAppErr(appErr, "upload file")
		}
	} else {
		// Spooled: stream it through an upload session rather than loading it for UploadFile.
		us, err := s.d.Mattermost.CreateUploadSession(&model.UploadSession{
			Id: model.NewId(), Type: model.UploadTypeAttachment, CreateAt: model.GetMillis(),
			UserId: s.opt.BotUserID, ChannelId: channelID, Filename: rec.Name, FileSize: c.size,
		})
		if err != nil {
			return classifyAppErr(err, "create upload session")
		}
		r, err := c.reader()
		if err != nil {
			return err
		}
		if info, err = s.d.Mattermost.UploadData(us, r); err != nil {
			return classifyAppErr(err, "upload file data")
		}
	}
	if info == nil || info.Id == "" {
		return errors.New("upload returned no file")
	}
	rec.FileID, rec.ChannelID = info.Id, channelID
	return nil
}

// classifyAppErr makes a 4xx from Mattermost a file problem (it will not change on retry) and anything else
// a transient error.
func classifyAppErr(err error, what string) error {
	var appErr *model.AppError
	if errors.As(err, &appErr) && appErr.StatusCode >= 400 && appErr.StatusCode < 500 {
		return problem(ProblemRefused, errors.Wrap(err, what))
	}
	return errors.Wrap(err, what)
}

// postFollowUp gives one recipient the files: the originals when they were uploaded into this recipient's
// channel and no earlier attempt may have used them, copies of their file infos otherwise.
func (s *Service) postFollowUp(ctx context.Context, j Job, t Target, files []fileResult, retried bool) error {
	rsv, err := s.d.Store.ReserveAttachmentPost(ctx, j.ChatID, j.MessageID, t.MMUserID)
	if err != nil {
		return err
	}
	if rsv.State == store.AttachmentPostPosted {
		return nil
	}
	var own, toCopy []string
	seen := map[string]bool{}
	for _, f := range files {
		if !f.attachedFor(t.MMUserID) || seen[f.FileID] {
			continue
		}
		seen[f.FileID] = true
		if f.ChannelID == t.ChannelID && !retried {
			own = append(own, f.FileID)
		} else {
			toCopy = append(toCopy, f.FileID)
		}
	}
	fileIDs := own
	if len(toCopy) > 0 {
		copies, appErr := s.d.Mattermost.CopyFileInfos(s.opt.BotUserID, toCopy)
		if appErr != nil {
			return errors.Wrap(appErr, "copy file infos")
		}
		fileIDs = append(fileIDs, copies...)
	}
	message := s.followUpText(j, t, files)
	if message == "" && len(fileIDs) == 0 {
		return s.d.Store.MarkAttachmentPosted(ctx, j.ChatID, j.MessageID, t.MMUserID, "")
	}
	post := &model.Post{
		UserId:    s.opt.BotUserID,
		ChannelId: t.ChannelID,
		RootId:    t.PostID,
		Message:   message,
		FileIds:   fileIDs,
	}
	post.AddProp(PropAttachmentsOf, j.MessageKey())
	post.AddProp(PropFromBot, "true")
	created, appErr := s.d.Mattermost.CreatePost(post)
	if appErr != nil {
		if appErr.StatusCode >= 400 && appErr.StatusCode < 500 {
			// Refused for good (the text DM was deleted, the channel archived): retrying cannot help, and
			// the recipient must not hold the job back.
			s.d.Logger.LogWarn("Mattermost refused an attachment follow-up; giving up for this recipient",
				"chat_id", j.ChatID, "message_id", j.MessageID, "user_id", t.MMUserID, "error", appErr.Error())
			s.d.Metrics.FollowUpRefused()
			return s.d.Store.MarkAttachmentPosted(ctx, j.ChatID, j.MessageID, t.MMUserID, "")
		}
		return errors.Wrap(appErr, "create attachment follow-up")
	}
	s.d.Metrics.FollowUpPosted(len(fileIDs))
	return s.d.Store.MarkAttachmentPosted(ctx, j.ChatID, j.MessageID, t.MMUserID, created.Id)
}

// findFollowUp looks for a follow-up an earlier attempt created in t's thread.
func (s *Service) findFollowUp(j Job, t Target) (string, error) {
	if t.PostID == "" {
		return "", nil
	}
	list, appErr := s.d.Mattermost.GetPostThread(t.PostID)
	if appErr != nil {
		if appErr.StatusCode == http.StatusNotFound {
			return "", nil
		}
		return "", errors.Wrap(appErr, "look for an earlier attachment follow-up")
	}
	if list == nil {
		return "", nil
	}
	for _, p := range list.Posts {
		if p.UserId == s.opt.BotUserID && p.RootId == t.PostID && p.DeleteAt == 0 {
			if v, _ := p.GetProp(PropAttachmentsOf).(string); v == j.MessageKey() {
				return p.Id, nil
			}
		}
	}
	return "", nil
}

// ImagePlaceholder stands, on its own line, for an inline image that could not be attached; the text DM uses the
// same words for an image it cannot show.
const ImagePlaceholder = format.ImageUnavailable

// followUpText is t's follow-up message: a placeholder line per inline image that could not be attached, code
// snippets, then what else could not be attached, including the shared files t's own account may not read.
// The list of missing files always survives; snippets are truncated to make room for it.
func (s *Service) followUpText(j Job, t Target, files []fileResult) string {
	var body string
	for _, f := range files {
		if f.kind == format.FileHostedContent && f.Problem != "" {
			body, _ = format.AppendBlock(body, imagePlaceholder(f.Problem))
		}
	}
	for _, f := range files {
		if f.Snippet != "" {
			body, _ = format.AppendBlock(body, format.FencedCode(f.Snippet, f.Language))
		}
	}
	var missing []string
	for _, f := range files {
		name := "- **" + format.InlineText(f.Name) + "**: "
		switch {
		case f.kind == format.FileHostedContent:
		case f.Problem != "":
			missing = append(missing, name+problemText(f.Problem))
		case f.access != nil && f.access[t.MMUserID] != accessGranted:
			missing = append(missing, name+accessText(f.access[t.MMUserID]))
		}
	}
	if len(missing) == 0 {
		return body
	}
	link := j.Link
	if link == "" {
		link = s.opt.TeamsLink(j.ChatID, j.MessageID)
	}
	notes := "Not attached, [open the message in Teams](" + link + ") to see:\n" + strings.Join(missing, "\n")
	if body == "" {
		return notes
	}
	room := format.MaxMessageRunes - len([]rune(notes)) - 2
	body, _ = format.Truncate(body, room)
	return body + "\n\n" + notes
}

// imagePlaceholder says why an inline image is missing without any URL: the hosted content's Graph URL needs a
// token and would only show an error.
func imagePlaceholder(p string) string {
	switch p {
	case ProblemTooLarge, ProblemImageTooLarge, ProblemTooMany:
		return "(image: " + problemText(p) + ", open the message in Teams)"
	}
	return ImagePlaceholder
}

// accessText tells a recipient why a shared file that others may get was not attached for them.
func accessText(a access) string {
	switch a {
	case accessDenied:
		return "shared in Teams, but your Microsoft account has no access to it"
	case accessNoAccount:
		return "shared in Teams; connect your Microsoft account with `/msteams connect` to receive shared files"
	}
	return "could not be downloaded"
}

func problemText(p string) string {
	switch p {
	case ProblemTooLarge:
		return "too large for Mattermost"
	case ProblemImageTooLarge:
		return "image resolution too large for Mattermost"
	case ProblemForbidden:
		return "access denied"
	case ProblemGone:
		return "no longer available"
	case ProblemTooMany:
		return fmt.Sprintf("a post carries at most %d files", MaxFilesPerPost)
	case ProblemRefused:
		return "refused by Mattermost"
	case ProblemUnsupported:
		return "not supported"
	case ProblemForeign:
		return "not part of this message"
	}
	return "could not be downloaded"
}

// defaultName names an inline image: its alt text when meaningful, else image-N, with an extension from its
// content type.
func defaultName(f format.FileRef, n int, contentType string) string {
	switch f.Kind {
	case format.FileCodeSnippet:
		return cleanName(firstNonEmpty(f.Name, "code snippet"))
	case format.FileReference:
		return cleanName(firstNonEmpty(f.Name, "file"))
	}
	base := strings.TrimSpace(f.Name)
	if base == "" || strings.EqualFold(base, "image") {
		base = fmt.Sprintf("image-%d", n)
	}
	base = cleanName(base)
	if path.Ext(base) == "" {
		base += extensionFor(contentType)
	}
	return base
}

func extensionFor(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	case "":
		return ""
	}
	if exts, _ := mime.ExtensionsByType(mt); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// cleanName keeps a file name a single path element of printable characters.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\':
			return '_'
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	return name
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
