package reply

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/teamshtml"
)

// Limits of inline images: Graph refuses a message request over about 4 MB, and hostedContents travel base64
// encoded (4/3 of their size) in it.
const (
	maxImages     = 10
	maxImageBytes = 2 << 20
	maxImagesSize = 2800 << 10
)

// Relevant tells, without any call, whether a post may be for the package: the hook sees every post of the
// server, and most are not. A post in a channel not yet seen is relevant until Accept looks it up.
func (s *Service) Relevant(post *model.Post) bool {
	switch {
	case post == nil, post.UserId == "", post.UserId == s.o.BotUserID:
		// The bot's own posts (DMs, answers, the consent question) are never sent: that is what keeps the way
		// back from looping.
		return false
	case post.Type != "" || post.IsSystemMessage():
		return false
	case post.GetProp("from_bot") != nil || post.GetProp("from_plugin") != nil || post.GetProp("from_webhook") != nil:
		return false
	case post.IsRemote():
		return false
	}
	// A channel already known not to be this user's DM with the bot (the common case: every other post of the
	// server) is settled here, without starting any work.
	if owner, known := s.channels.get(post.ChannelId); known && owner != post.UserId {
		return false
	}
	return true
}

// Job is the payload of queue "replies": a post its author wrote in the thread of a bot DM. The post is read
// again when the job runs, so an edit made meanwhile is what goes, and a post deleted meanwhile does not.
type Job struct {
	PostID string `json:"post_id"`
}

// Accept takes a post from the post hook. A reply its author wrote in the thread of a Teams DM is stored as a job
// of queue "replies" (Process sends it); a top-level post in the bot DM gets a hint. Posts elsewhere are ignored.
func (s *Service) Accept(ctx context.Context, post *model.Post) {
	if !s.Relevant(post) {
		return
	}
	owner, err := s.botDMOwner(post.ChannelId)
	if err != nil {
		s.d.Logger.LogWarn("Could not tell whether a post is a reply to a Teams message", "post_id", post.Id, "error", err.Error())
		return
	}
	if owner == "" || owner != post.UserId {
		return
	}
	if post.RootId == "" {
		s.ephemeral(post.UserId, post.ChannelId, "", msgTopLevel)
		return
	}
	if err := inbox.Enqueue(ctx, s.d.Queue, inbox.QueueReplies, "reply:"+post.Id, Job{PostID: post.Id}); err != nil {
		s.d.Logger.LogWarn("Could not queue a reply for Teams", "post_id", post.Id, "error", err.Error())
		s.ephemeral(post.UserId, post.ChannelId, post.RootId, fmt.Sprintf(msgTryAgain, "reply"))
	}
}

// Process implements inbox.Handler for queue "replies": it sends the post to its Teams chat and tells its author
// how it went. A passing failure (throttling, an outage, the plugin stopping) is retried by the inbox; see
// Options.GiveUpAfter and Options.MaxAge.
func (s *Service) Process(ctx context.Context, job inbox.Job) error {
	var j Job
	if err := job.Decode(&j); err != nil || j.PostID == "" {
		return inbox.Park(errors.New("a reply job without a post id"))
	}
	post, appErr := s.d.Mattermost.GetPost(j.PostID)
	switch {
	case appErr != nil && appErr.StatusCode == http.StatusNotFound:
		return nil // deleted before it could be sent: the author took it back
	case appErr != nil:
		return errors.Wrap(appErr, "read the reply")
	case post.DeleteAt != 0 || post.RootId == "":
		return nil
	}
	root, appErr := s.d.Mattermost.GetPost(post.RootId)
	if appErr != nil && appErr.StatusCode != http.StatusNotFound {
		return errors.Wrap(appErr, "read the DM a reply answers")
	}
	var chatID, messageID string
	if root != nil {
		chatID, _ = root.GetProp(PropChatID).(string)
		messageID, _ = root.GetProp(PropMessageID).(string)
	}
	if root == nil || root.UserId != s.o.BotUserID || chatID == "" || messageID == "" {
		s.ephemeral(post.UserId, post.ChannelId, post.RootId, msgNotTeamsThread)
		return nil
	}
	return s.send(ctx, post, chatID, job.Attempts)
}

// send posts the reply into the chat, once, and tells the user how it went. Its error asks the inbox to try
// again later.
func (s *Service) send(ctx context.Context, post *model.Post, chatID string, attempt int) error {
	userID, channelID, rootID := post.UserId, post.ChannelId, post.RootId
	ids := []any{"user_id", userID, "post_id", post.Id, "chat_id", chatID, "attempt", attempt}
	if msg, ok := s.mayWrite(ctx, userID, "reply"); !ok {
		s.ephemeral(userID, channelID, rootID, msg)
		return nil
	}

	images, skipped := s.files(post.FileIds)
	var members *chatMembers
	conv, err := teamshtml.Convert(post.Message, teamshtml.Options{
		ResolveMention: func(username string) (teamshtml.Mention, bool) {
			if members == nil {
				members = s.members(ctx, chatID, ids)
			}
			return s.resolveMention(ctx, username, members)
		},
	})
	if err != nil {
		s.d.Logger.LogWarn("Could not convert a reply for Teams", append(ids, "error", err.Error())...)
		s.ephemeral(userID, channelID, rootID, fmt.Sprintf(msgTryAgain, "reply"))
		return nil
	}
	out := graph.OutgoingMessage{HTML: conv.HTML}
	for i, m := range conv.Mentions {
		out.Mentions = append(out.Mentions, graph.OutgoingMention{ID: i, TeamsUserID: m.TeamsUserID, DisplayName: m.DisplayName})
	}
	for i, img := range images {
		id := strconv.Itoa(i + 1)
		out.HTML += `<p><img src="../hostedContents/` + id + `/$value" alt="` + html.EscapeString(img.name) + `"></p>`
		out.Hosted = append(out.Hosted, graph.OutgoingHostedContent{TempID: id, ContentType: img.mime, Bytes: img.data})
	}
	filesNote := ""
	if len(skipped) > 0 {
		filesNote = fmt.Sprintf(msgFilesNotSent, strings.Join(skipped, ", "))
	}
	if strings.TrimSpace(post.Message) == "" && len(out.Hosted) == 0 {
		if filesNote != "" {
			s.ephemeral(userID, channelID, rootID, filesNote)
		}
		return nil
	}

	// Teams cannot be asked to post idempotently: the reservation tells a later attempt that this one may have
	// reached Teams, and that attempt looks in the chat before posting again.
	now := s.d.Now()
	rec, fresh, err := s.d.Store.ReserveReply(ctx, store.SentReply{PostID: post.Id, ChatID: chatID, MMUserID: userID, ReservedAt: now})
	if err != nil {
		return err
	}
	switch {
	case rec.State == store.ReplySent:
		s.done(ctx, post, chatID, filesNote, ids)
		return nil
	case fresh && now.Sub(time.UnixMilli(post.CreateAt)) > s.o.MaxAge:
		if err := s.d.Store.ForgetReply(ctx, post.Id); err != nil {
			return err
		}
		s.d.Logger.LogWarn("A reply waited too long to be sent to Teams; not sent", ids...)
		s.ephemeral(userID, channelID, rootID, msgTooLate)
		return nil
	case !fresh:
		found, err := s.alreadySent(ctx, userID, chatID, rec.ReservedAt, out.HTML)
		if err != nil {
			return s.sendFailed(ctx, post, err, attempt, ids)
		}
		if found != "" {
			s.d.Logger.LogInfo("A reply an interrupted attempt sent to Teams was found in the chat; not sending it again", ids...)
			if err := s.d.Store.MarkReplySent(ctx, post.Id, found, now); err != nil {
				return err
			}
			s.done(ctx, post, chatID, filesNote, ids)
			return nil
		}
	}

	var sentID string
	err = s.d.Users.CallGraph(ctx, userID, func(ctx context.Context, g UserGraph) error {
		return s.throttled(ctx, func() error {
			var err error
			sentID, err = g.SendChatMessage(ctx, chatID, out)
			return err
		})
	})
	if err != nil {
		return s.sendFailed(ctx, post, err, attempt, ids)
	}
	if err := s.d.Store.MarkReplySent(ctx, post.Id, sentID, s.d.Now()); err != nil {
		// Teams has it; a retry would find it in the chat. The job ends here, so none comes.
		s.d.Logger.LogWarn("Could not record a reply as sent", append(ids, "error", err.Error())...)
	}
	s.d.Logger.LogDebug("Reply sent to Teams", ids...)
	s.done(ctx, post, chatID, filesNote, ids)
	return nil
}

// done marks a sent reply with the bot's ✅, keeps its thread for later DMs of the chat, and names the files
// that did not go.
func (s *Service) done(ctx context.Context, post *model.Post, chatID, filesNote string, ids []any) {
	userID, channelID, rootID := post.UserId, post.ChannelId, post.RootId
	if _, appErr := s.d.Mattermost.AddReaction(&model.Reaction{UserId: s.o.BotUserID, PostId: post.Id, EmojiName: SentEmoji, ChannelId: channelID}); appErr != nil {
		s.ephemeral(userID, channelID, rootID, msgSent)
	}
	if err := s.d.Store.SaveReplyThread(ctx, chatID, userID, rootID, s.d.Now()); err != nil {
		s.d.Logger.LogWarn("Could not remember the thread of a reply; later messages of the chat start new threads", append(ids, "error", err.Error())...)
	}
	if filesNote != "" {
		s.ephemeral(userID, channelID, rootID, filesNote)
	}
}

// sendFailed decides what a failed send means: a passing failure is retried by the inbox until
// Options.GiveUpAfter attempts; a refusal, or the last attempt, is explained to the user.
func (s *Service) sendFailed(ctx context.Context, post *model.Post, err error, attempt int, ids []any) error {
	if ctx.Err() != nil {
		return err // the plugin is stopping: the job runs again when it starts
	}
	status := graph.StatusOf(err)
	passing := graph.IsThrottled(err) || status >= 500 || (status == 0 && !s.d.Users.IsNotConnected(err))
	if passing && attempt < s.o.GiveUpAfter {
		s.d.Logger.LogDebug("A reply could not be sent to Teams yet; will try again", append(ids, "error", err.Error())...)
		if graph.IsThrottled(err) {
			wait := graph.RetryAfterOf(err)
			if wait <= 0 {
				wait = 30 * time.Second
			}
			return inbox.RetryAfter(errors.Wrap(err, "send reply"), wait)
		}
		return errors.Wrap(err, "send reply")
	}
	if !passing {
		// Teams refused it: nothing is there, and nothing should claim it is.
		if ferr := s.d.Store.ForgetReply(ctx, post.Id); ferr != nil {
			s.d.Logger.LogWarn("Could not drop the record of a refused reply", append(ids, "error", ferr.Error())...)
		}
	}
	s.d.Logger.LogWarn("A reply could not be sent to Teams", append(ids, "error", err.Error())...)
	s.ephemeral(post.UserId, post.ChannelId, post.RootId, s.failure(err, "reply"))
	return nil
}

// sentClockSlack allows for the difference between this server's clock and Teams' when an interrupted attempt
// is looked for in the chat.
const sentClockSlack = time.Minute

// alreadySent looks in the chat, as the user, for a message of theirs with the reply's text, created since an
// interrupted attempt reserved the reply: it returns that message's id, or "". The same words written in Teams
// itself in that minute would be taken for the reply; that is the price of never posting twice.
func (s *Service) alreadySent(ctx context.Context, userID, chatID string, reservedAt time.Time, sentHTML string) (string, error) {
	u, err := s.d.Store.GetUser(ctx, userID)
	if err != nil {
		return "", err
	}
	found := ""
	err = s.d.Users.CallGraph(ctx, userID, func(ctx context.Context, g UserGraph) error {
		msgs, err := g.ListMessagesSince(ctx, chatID, reservedAt.Add(-sentClockSlack))
		for _, m := range msgs {
			if m.From.UserID == u.TeamsUserID && !m.CreatedAt.Before(reservedAt.Add(-sentClockSlack)) &&
				plainText(m.BodyHTML) == plainText(sentHTML) {
				found = m.ID
			}
		}
		return err
	})
	return found, errors.Wrap(err, "look for an interrupted reply in the chat")
}

var tags = regexp.MustCompile(`<[^>]*>`)

// plainText is the words of a message's HTML, for telling whether a message in the chat is the reply: Teams
// may rewrite the markup it was sent, not the words.
func plainText(h string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(h, " "))), " ")
}

// throttled runs call, trying again while Graph throttles it beyond the client's own retries.
func (s *Service) throttled(ctx context.Context, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil || !graph.IsThrottled(err) || attempt >= s.o.ThrottleRetries {
			return err
		}
		wait := graph.RetryAfterOf(err)
		if wait <= 0 {
			wait = 5 * time.Second
		}
		if wait > s.o.MaxThrottleWait {
			return err
		}
		if serr := s.o.Sleep(ctx, wait); serr != nil {
			return err
		}
	}
}

// image is an attached image sent inline.
type image struct {
	name, mime string
	data       []byte
}

// files splits the post's attachments into images sent inline and the names of files that are not sent.
func (s *Service) files(fileIDs []string) (images []image, skipped []string) {
	total := 0
	for _, id := range fileIDs {
		info, appErr := s.d.Mattermost.GetFileInfo(id)
		if appErr != nil {
			skipped = append(skipped, "a file")
			continue
		}
		if !strings.HasPrefix(info.MimeType, "image/") || info.MimeType == "image/svg+xml" ||
			info.Size > maxImageBytes || total+int(info.Size) > maxImagesSize || len(images) >= maxImages {
			skipped = append(skipped, info.Name)
			continue
		}
		data, appErr := s.d.Mattermost.GetFile(id)
		if appErr != nil || len(data) > maxImageBytes {
			skipped = append(skipped, info.Name)
			continue
		}
		total += len(data)
		images = append(images, image{name: info.Name, mime: info.MimeType, data: data})
	}
	return images, skipped
}

// chatMembers are the chat's members by Teams user id, read once per reply and only when it mentions someone.
type chatMembers struct {
	byTeam map[string]string // Teams user id → display name
}

func (s *Service) members(ctx context.Context, chatID string, ids []any) *chatMembers {
	m := &chatMembers{byTeam: map[string]string{}}
	app := s.d.App()
	if app == nil {
		return m
	}
	chat, err := app.GetChat(ctx, chatID)
	if err != nil {
		// The reply still goes, with its @names as plain text.
		s.d.Logger.LogWarn("Could not read the chat's members for the mentions of a reply", append(ids, "error", err.Error())...)
		return m
	}
	for _, mb := range chat.Members {
		m.byTeam[mb.UserID] = mb.DisplayName
	}
	return m
}

// resolveMention maps a Mattermost username to the chat member it stands for: a user connected to a Teams
// account that is a member of the chat. Anyone else stays "@username" text.
func (s *Service) resolveMention(ctx context.Context, username string, members *chatMembers) (teamshtml.Mention, bool) {
	u, appErr := s.d.Mattermost.GetUserByUsername(username)
	if appErr != nil || u == nil {
		return teamshtml.Mention{}, false
	}
	link, err := s.d.Store.GetUser(ctx, u.Id)
	if err != nil || !link.Connected() {
		return teamshtml.Mention{}, false
	}
	name, ok := members.byTeam[link.TeamsUserID]
	if !ok {
		return teamshtml.Mention{}, false
	}
	if name == "" {
		name = u.GetDisplayName(model.ShowFullName)
	}
	return teamshtml.Mention{TeamsUserID: link.TeamsUserID, DisplayName: name}, true
}

// failure is what the user is told when Graph refused a reply or a reaction.
func (s *Service) failure(err error, what string) string {
	var apiErr *graph.APIError
	errors.As(err, &apiErr)
	switch {
	case s.d.Users.IsNotConnected(err):
		return fmt.Sprintf(msgNotConnected, what)
	case graph.IsThrottled(err):
		return fmt.Sprintf(msgThrottled, what)
	case graph.IsNotFound(err):
		return fmt.Sprintf(msgChatGone, what)
	case graph.IsForbidden(err) && apiErr != nil && mentionsPermission(apiErr.Message):
		return fmt.Sprintf(msgForbiddenPermission, what)
	case graph.IsForbidden(err):
		return fmt.Sprintf(msgChatGone, what)
	case graph.StatusOf(err) == http.StatusBadRequest:
		return fmt.Sprintf(msgRejected, what)
	}
	return fmt.Sprintf(msgTryAgain, what)
}

// mentionsPermission tells a 403 for a missing permission from one for a chat the user is not in.
func mentionsPermission(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "scope") || strings.Contains(m, "permission") || strings.Contains(m, "consent")
}
