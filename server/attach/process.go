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

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// maxUserTries bounds how many recipients' accounts are tried for one shared file.
const maxUserTries = 3

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
// uploaded (into the first pending target's channel) and recorded now.
func (s *Service) resolveFiles(ctx context.Context, j Job, pending []Target, attempt int) ([]store.AttachmentFile, error) {
	saved, err := s.d.Store.GetAttachmentFiles(ctx, j.ChatID, j.MessageID)
	if err != nil {
		return nil, err
	}
	lim := s.limits()
	out := make([]store.AttachmentFile, 0, len(j.Files))
	attached, images := 0, 0
	for _, f := range j.Files {
		if f.Kind == format.FileHostedContent {
			images++
		}
		key := fileKey(f)
		rec, ok := saved[key]
		if !ok {
			rec = store.AttachmentFile{ChatID: j.ChatID, MessageID: j.MessageID, FileKey: key, Name: defaultName(f, images, "")}
			if f.Kind != format.FileCodeSnippet && attached >= MaxFilesPerPost {
				rec.Problem = ProblemTooMany
			} else if err := s.resolve(ctx, j, f, images, pending, lim, &rec); err != nil {
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
		out = append(out, rec)
	}
	return out, nil
}

func isRetryAfter(err error) bool {
	_, ok := inbox.RetryAfterOf(err)
	return ok
}

// resolve fetches one file and uploads it (or, for a snippet, keeps its text) into rec.
func (s *Service) resolve(ctx context.Context, j Job, f format.FileRef, imageNo int, pending []Target, lim limits, rec *store.AttachmentFile) error {
	switch f.Kind {
	case format.FileCodeSnippet:
		chatID, messageID, hostedID, ok := hostedContentRef(f.URL)
		if !ok {
			return problem(ProblemUnsupported, nil)
		}
		hc, err := s.d.App.GetHostedContent(ctx, chatID, messageID, hostedID, s.opt.MaxSnippetBytes)
		if err != nil {
			return s.classifyGraph(err, "get code snippet")
		}
		rec.Snippet, rec.Language = strings.ToValidUTF8(string(hc.Data), "\uFFFD"), f.Language
		return nil

	case format.FileHostedContent:
		chatID, messageID, hostedID, ok := hostedContentRef(f.URL)
		if !ok {
			return problem(ProblemUnsupported, nil)
		}
		maxBytes := min(s.opt.MaxHostedBytes, lim.maxFileSize)
		hc, err := s.d.App.GetHostedContent(ctx, chatID, messageID, hostedID, maxBytes)
		if err != nil {
			return s.classifyGraph(err, "get hosted content")
		}
		c := &content{data: hc.Data, size: int64(len(hc.Data)), contentType: hc.ContentType}
		rec.Name = defaultName(f, imageNo, hc.ContentType)
		return s.upload(ctx, c, pending[0].ChannelID, lim, rec)

	case format.FileReference:
		item, err := s.driveItem(ctx, f.URL, pending)
		if err != nil {
			return err
		}
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
		return s.upload(ctx, c, pending[0].ChannelID, lim, rec)
	}
	return problem(ProblemUnsupported, errors.Errorf("unknown file kind %q", f.Kind))
}

// driveItem resolves a shared file's URL as a recipient: the first whose account can read it. Throttling
// stops at once; other failures move on to the next recipient and the last one is reported.
func (s *Service) driveItem(ctx context.Context, shareURL string, pending []Target) (graph.DriveItem, error) {
	var last error
	for i, t := range pending {
		if i == maxUserTries {
			break
		}
		var item graph.DriveItem
		err := s.d.Users.CallGraph(ctx, t.MMUserID, func(ctx context.Context, c *graph.Client) error {
			var err error
			item, err = c.GetDriveItemByShareURL(ctx, shareURL)
			return err
		})
		if err == nil {
			return item, nil
		}
		if graph.IsThrottled(err) {
			return graph.DriveItem{}, s.classifyGraph(err, "resolve shared file")
		}
		var netErr net.Error
		if errors.As(err, &netErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// Graph could not be reached: that says nothing about access, try the job again later.
			return graph.DriveItem{}, errors.Wrap(err, "resolve shared file")
		}
		last = err
	}
	if graph.StatusOf(last) != 0 {
		return graph.DriveItem{}, s.classifyGraph(last, "resolve shared file")
	}
	// No recipient's account could be used at all (disconnected, tokens refused).
	return graph.DriveItem{}, problem(ProblemForbidden, last)
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
func (s *Service) postFollowUp(ctx context.Context, j Job, t Target, files []store.AttachmentFile, retried bool) error {
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
		if f.FileID == "" || seen[f.FileID] {
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
	message := s.followUpText(j, files)
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

// followUpText is the follow-up's message: code snippets, then what could not be attached. The list of
// missing files always survives; snippets are truncated to make room for it.
func (s *Service) followUpText(j Job, files []store.AttachmentFile) string {
	var body string
	for _, f := range files {
		if f.Snippet != "" {
			body, _ = format.AppendBlock(body, format.FencedCode(f.Snippet, f.Language))
		}
	}
	var missing []string
	for _, f := range files {
		if f.Problem != "" {
			missing = append(missing, "- **"+format.InlineText(f.Name)+"**: "+problemText(f.Problem))
		}
	}
	if len(missing) == 0 {
		return body
	}
	notes := "Not attached, [open the message in Teams](" + s.opt.TeamsLink(j.ChatID, j.MessageID) + ") to see:\n" + strings.Join(missing, "\n")
	if body == "" {
		return notes
	}
	room := format.MaxMessageRunes - len([]rune(notes)) - 2
	body, _ = format.Truncate(body, room)
	return body + "\n\n" + notes
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
