package attach_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
	"github.com/teamsnotify/msteams-sync/server/attach"
	"github.com/teamsnotify/msteams-sync/server/delivery"
	"github.com/teamsnotify/msteams-sync/server/format"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/inbox"
)

func TestEachFileIsDownloadedAndUploadedOnceAndSharedWithEveryRecipient(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:   "<p>see these</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 4, 4)}},
		Files:  []graphsim.FileRef{{Name: "report.pdf", ContentType: "application/pdf", Bytes: []byte("%PDF-1.4 report")}},
	})
	require.Len(t, j.Files, 2)
	e.sim.ResetCalls()

	require.NoError(t, e.process(j, 1))

	assert.Equal(t, 1, e.hostedCalls(), "the image is downloaded once for three recipients")
	assert.Equal(t, 3, e.sim.CallCount("GET /shares/{id}/driveItem", "delegated"), "each recipient's own token checks access to the shared file")
	uploads := e.mm.uploadList()
	require.Len(t, uploads, 2, "one upload per file")
	for _, u := range uploads {
		assert.Equal(t, e.targets[0].ChannelID, u.ChannelID, "uploaded into the first recipient's DM")
		assert.False(t, u.Session, "small files go through UploadFile")
	}
	copies := e.mm.copyList()
	require.Len(t, copies, 2, "the other two recipients get copies")
	for _, c := range copies {
		assert.Equal(t, botID, c.UserID, "copies belong to the bot, so its post can attach them")
		assert.Len(t, c.FileIDs, 2)
	}
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1, "one follow-up per recipient")
		p := posts[0]
		assert.Equal(t, tg.PostID, p.RootId, "a reply to the text DM")
		assert.Equal(t, botID, p.UserId)
		assert.Equal(t, []string{"image-1.png", "report.pdf"}, e.mm.fileNames(p), "both files attached")
		assert.Equal(t, j.ChatID+"|"+j.MessageID, p.GetProp(attach.PropAttachmentsOf))
		assert.Empty(t, p.Message, "nothing to say when everything is attached")
	}
}

func TestFileOverMaxFileSizeIsNamedWithALinkAndTheRestAttached(t *testing.T) {
	e := newEnv(t, attach.Options{})
	e.mm.setMaxFileSize(2000)
	j := e.send(graphsim.NewMessage{
		HTML: "<p>two files</p>",
		Hosted: []graphsim.HostedContent{
			{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)},
			{ContentType: "image/png", Bytes: make([]byte, 5000)},
		},
		Files: []graphsim.FileRef{{Name: "big.zip", ContentType: "application/zip", Bytes: make([]byte, 5000)}},
	})
	require.NoError(t, e.process(j, 1))

	require.Len(t, e.mm.uploadList(), 1, "only the image is uploaded")
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Equal(t, []string{"image-1.png"}, e.mm.fileNames(posts[0]))
		msg := posts[0].Message
		assert.Contains(t, msg, "**big.zip**: too large for Mattermost", "a shared file: its size is known before downloading")
		assert.Contains(t, msg, "(image: too large for Mattermost, open the message in Teams)", "an inline image: refused while downloading")
		assert.Contains(t, msg, "(https://teams.microsoft.com/l/message/"+j.ChatID+"/"+j.MessageID+"?")
	}
}

func TestMissingHostedContentIsNamedNotRetried(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:   "<p>gone</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}},
	})
	require.Len(t, j.Files, 1)
	// The hosted content no longer exists: graphsim answers 404 like Graph.
	j.Files[0].URL = strings.Replace(j.Files[0].URL, "/hostedContents/", "/hostedContents/missing", 1)

	require.NoError(t, e.process(j, 1), "a missing file does not fail the job")
	assert.Empty(t, e.mm.uploadList())
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Equal(t, attach.ImagePlaceholder, posts[0].Message)
		assert.Empty(t, posts[0].FileIds)
	}
}

func TestThrottledDownloadAsksForRetryAfterAndLaterSucceeds(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:   "<p>busy</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}},
	})
	e.sim.InjectFault(graphsim.Fault{Route: "GET /chats/{id}/messages/{id}/hostedContents/{id}/$value", Status: 429, RetryAfter: 7, Count: 1})

	err := e.process(j, 1)
	require.Error(t, err)
	d, ok := inbox.RetryAfterOf(err)
	require.True(t, ok, "a throttled answer is a RetryAfter: %v", err)
	assert.Equal(t, 7*time.Second, d, "Graph's Retry-After is kept")
	assert.Empty(t, e.mm.uploadList())
	assert.Empty(t, e.mm.followUps(e.targets[0].ChannelID), "nothing is posted while a file may still come")

	require.NoError(t, e.process(j, 2))
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Equal(t, []string{"image-1.png"}, e.mm.fileNames(posts[0]))
	}
}

func TestRetriedJobDoesNotPostOrUploadAgain(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:   "<p>again</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}},
		Files:  []graphsim.FileRef{{Name: "notes.txt", ContentType: "text/plain", Bytes: []byte("notes")}},
	})
	require.NoError(t, e.process(j, 1))
	e.sim.ResetCalls()

	require.NoError(t, e.process(j, 1), "the inbox may deliver a job twice")
	assert.Zero(t, e.sim.GraphCalls(""), "nothing is fetched again")
	assert.Len(t, e.mm.uploadList(), 2, "nothing is uploaded again")
	for _, tg := range e.targets {
		assert.Len(t, e.mm.followUps(tg.ChannelID), 1, "no duplicate follow-up")
	}
}

func TestCrashAfterCreatingAFollowUpDoesNotDuplicateIt(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:  "<p>crash</p>",
		Files: []graphsim.FileRef{{Name: "a.txt", ContentType: "text/plain", Bytes: []byte("a")}},
	})
	// The first follow-up is written but the call fails, as if the process died before recording it.
	e.mm.failCreatePost = 1
	require.Error(t, e.process(j, 1))
	require.Len(t, e.mm.followUps(e.targets[0].ChannelID), 1)
	for _, tg := range e.targets[1:] {
		assert.Len(t, e.mm.followUps(tg.ChannelID), 1, "the other recipients are served in the same attempt")
	}

	require.NoError(t, e.process(j, 2))
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1, "the retry finds the earlier follow-up in the thread")
		assert.Equal(t, []string{"a.txt"}, e.mm.fileNames(posts[0]))
	}
	assert.Len(t, e.mm.uploadList(), 1)
}

func TestUploadsAreRateLimited(t *testing.T) {
	e := newEnv(t, attach.Options{UploadsPerSecond: 4, UploadBurst: 1})
	var hosted []graphsim.HostedContent
	for range 5 {
		hosted = append(hosted, graphsim.HostedContent{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)})
	}
	j := e.send(graphsim.NewMessage{HTML: "<p>album</p>", Hosted: hosted})
	require.Len(t, j.Files, 5)

	start := e.clock.Now()
	require.NoError(t, e.process(j, 1))
	uploads := e.mm.uploadList()
	require.Len(t, uploads, 5)
	for i, u := range uploads {
		assert.Equal(t, time.Duration(i)*250*time.Millisecond, u.At.Sub(start), "upload %d waits for its token", i)
	}
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}, e.clock.Sleeps())
}

func TestLimiterRefillsUpToItsBurst(t *testing.T) {
	clock := newFakeClock()
	l := attach.NewLimiter(4, 2, clock)
	ctx := context.Background()
	for range 4 {
		require.NoError(t, l.Wait(ctx))
	}
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, clock.Sleeps(), "a burst of 2, then one token per 250 ms")

	clock.Sleep(ctx, 10*time.Second) // idle: the bucket fills to its burst, no further
	before := len(clock.Sleeps())
	for range 3 {
		require.NoError(t, l.Wait(ctx))
	}
	assert.Equal(t, []time.Duration{250 * time.Millisecond}, clock.Sleeps()[before:])
}

func TestLargeFileIsSpooledToATempFileAndStreamed(t *testing.T) {
	e := newEnv(t, attach.Options{MemoryLimit: 1024})
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(i)
	}
	j := e.send(graphsim.NewMessage{
		HTML: "<p>big and small</p>",
		Files: []graphsim.FileRef{
			{Name: "big.bin", ContentType: "application/octet-stream", Bytes: big},
			{Name: "small.txt", ContentType: "text/plain", Bytes: []byte("small")},
		},
	})
	require.NoError(t, e.process(j, 1))

	uploads := e.mm.uploadList()
	require.Len(t, uploads, 2)
	assert.True(t, uploads[0].Session, "over MemoryLimit: streamed through an upload session")
	assert.Equal(t, int64(len(big)), uploads[0].Size)
	assert.True(t, inDir(uploads[0].SpoolPath, e.tempDir), "streamed from a temp file in TempDir, got %q", uploads[0].SpoolPath)
	assert.False(t, uploads[1].Session, "a small file stays in memory")
	left, err := os.ReadDir(e.tempDir)
	require.NoError(t, err)
	assert.Empty(t, left, "temp files are removed")
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Equal(t, []string{"big.bin", "small.txt"}, e.mm.fileNames(posts[0]))
	}
}

func TestImageOverMaxResolutionIsNamed(t *testing.T) {
	e := newEnv(t, attach.Options{})
	res := int64(100)
	e.mm.config.FileSettings.MaxImageResolution = &res
	j := e.send(graphsim.NewMessage{
		HTML:   "<p>huge</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 20, 20)}},
	})
	require.NoError(t, e.process(j, 1))
	assert.Empty(t, e.mm.uploadList(), "Mattermost would refuse it")
	posts := e.mm.followUps(e.targets[0].ChannelID)
	require.Len(t, posts, 1)
	assert.Equal(t, "(image: image resolution too large for Mattermost, open the message in Teams)", posts[0].Message)
}

func TestCodeSnippetIsFetchedOnceAndPostedAsFencedBlock(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:         "<p>look</p>",
		CodeSnippets: []graphsim.CodeSnippet{{Language: "go", Code: "fmt.Println(\"hi\")\n"}},
	})
	require.Len(t, j.Files, 1)
	e.sim.ResetCalls()
	require.NoError(t, e.process(j, 1))
	assert.Equal(t, 1, e.hostedCalls())
	assert.Empty(t, e.mm.uploadList())
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Equal(t, "```go\nfmt.Println(\"hi\")\n```", posts[0].Message)
	}
}

func TestAtMostTenFilesAreAttached(t *testing.T) {
	e := newEnv(t, attach.Options{UploadBurst: 20})
	var hosted []graphsim.HostedContent
	for range 11 {
		hosted = append(hosted, graphsim.HostedContent{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)})
	}
	j := e.send(graphsim.NewMessage{HTML: "<p>many</p>", Hosted: hosted})
	e.sim.ResetCalls()
	require.NoError(t, e.process(j, 1))
	assert.Equal(t, 10, e.hostedCalls(), "the 11th is not even fetched")
	posts := e.mm.followUps(e.targets[2].ChannelID)
	require.Len(t, posts, 1)
	assert.Len(t, e.mm.fileNames(posts[0]), 10)
	assert.Contains(t, posts[0].Message, "(image: a post carries at most 10 files, open the message in Teams)")
}

func TestSharedFileIsAttachedOnlyForRecipientsWhoseOwnAccountCanReadIt(t *testing.T) {
	e := newEnv(t, attach.Options{})
	noAccess, reader, disconnected := e.targets[0], e.targets[1], e.targets[2]
	delete(e.users, disconnected.MMUserID) // disconnected since the DM went out
	j := e.send(graphsim.NewMessage{
		HTML: "<p>file</p>",
		// Shared in Teams with the second recipient only; the first is in the chat but may not open it.
		Files: []graphsim.FileRef{{Name: "plan.docx", Bytes: []byte("plan"), SharedWith: []string{teamsUsers[1], teamsUsers[2]}}},
	})
	e.sim.ResetCalls()
	require.NoError(t, e.process(j, 1))

	assert.Equal(t, 2, e.sim.CallCount("GET /shares/{id}/driveItem", "delegated"), "one metadata call per connected recipient")
	uploads := e.mm.uploadList()
	require.Len(t, uploads, 1, "downloaded and uploaded once")
	assert.Equal(t, reader.ChannelID, uploads[0].ChannelID, "uploaded into the DM of a recipient who may read it")

	posts := e.mm.followUps(reader.ChannelID)
	require.Len(t, posts, 1)
	assert.Equal(t, []string{"plan.docx"}, e.mm.fileNames(posts[0]), "the recipient with access gets the file")
	assert.Empty(t, posts[0].Message)

	posts = e.mm.followUps(noAccess.ChannelID)
	require.Len(t, posts, 1)
	assert.Empty(t, posts[0].FileIds, "no file id for a recipient without access")
	assert.Contains(t, posts[0].Message, "- **plan.docx**: shared in Teams, but your Microsoft account has no access to it")
	assert.NotContains(t, posts[0].Message, "/personal/", "no link to the file itself")

	posts = e.mm.followUps(disconnected.ChannelID)
	require.Len(t, posts, 1)
	assert.Empty(t, posts[0].FileIds, "no file for a recipient without a usable token")
	assert.Contains(t, posts[0].Message, "- **plan.docx**: shared in Teams; connect your Microsoft account with `/msteams connect` to receive shared files")
	for _, c := range e.mm.copyList() {
		assert.Len(t, c.FileIDs, 0, "no copy is made for anyone but readers")
	}
}

func TestSharedFileNobodyHereCanReadIsStillAttachedForALaterRecipientWhoCan(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{
		HTML:  "<p>file</p>",
		Files: []graphsim.FileRef{{Name: "secret.xlsx", Bytes: []byte("x"), SharedWith: []string{teamsUsers[2]}}},
	})
	first := j
	first.Targets = j.Targets[:2]
	require.NoError(t, e.process(first, 1))
	assert.Empty(t, e.mm.uploadList(), "nothing is downloaded when no recipient may read it")
	for _, tg := range first.Targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Contains(t, posts[0].Message, "**secret.xlsx**: shared in Teams, but your Microsoft account has no access to it")
	}

	require.NoError(t, e.process(j, 1))
	posts := e.mm.followUps(e.targets[2].ChannelID)
	require.Len(t, posts, 1)
	assert.Equal(t, []string{"secret.xlsx"}, e.mm.fileNames(posts[0]), "the earlier recipients' lack of access is not recorded for the message")
}

func TestSharedFileForDisconnectedRecipientsIsNamed(t *testing.T) {
	e := newEnv(t, attach.Options{})
	e.users = map[string]*graph.Client{}
	j := e.send(graphsim.NewMessage{
		HTML:  "<p>file</p>",
		Files: []graphsim.FileRef{{Name: "secret.xlsx", Bytes: []byte("x")}},
	})
	require.NoError(t, e.process(j, 1))
	assert.Empty(t, e.mm.uploadList())
	posts := e.mm.followUps(e.targets[1].ChannelID)
	require.Len(t, posts, 1)
	assert.Contains(t, posts[0].Message, "**secret.xlsx**: shared in Teams; connect your Microsoft account")
}

func TestHostedContentOfAnotherChatOrHostIsNotFetched(t *testing.T) {
	e := newEnv(t, attach.Options{})
	other, err := e.sim.CreateChat(graphsim.ChatSpec{ChatType: "oneOnOne", Members: []string{senderID, teamsUsers[0]}})
	require.NoError(t, err)
	otherMsg, err := e.sim.SendMessage(other, graphsim.NewMessage{From: senderID, HTML: "<p>private</p>",
		Hosted: []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: pngBytes(t, 3, 3)}}})
	require.NoError(t, err)
	_, err = e.factory.App().GetHostedContent(context.Background(), other, otherMsg, "img1", 1<<20)
	require.NoError(t, err, "the app-only token could read it")
	foreign := e.sim.GraphURL() + "/chats/" + other + "/messages/" + otherMsg + "/hostedContents/img1/$value"

	j := e.send(graphsim.NewMessage{
		HTML:         `<p>look at this</p><p><img src="` + foreign + `" alt="image"></p><p>and this</p>`,
		CodeSnippets: []graphsim.CodeSnippet{{Language: "go", Code: "x := 1"}},
	})
	require.Len(t, j.Files, 2, "the HTML's image is on the Graph host, so it reaches the attachment job")
	// An install on the public cloud takes any Microsoft Graph cloud's host from the HTML; only the configured
	// one is asked.
	j.Files = append(j.Files, format.FileRef{Kind: format.FileHostedContent,
		URL: "https://graph.microsoft.us/v1.0/chats/" + j.ChatID + "/messages/" + j.MessageID + "/hostedContents/img1/$value"})
	e.sim.ResetCalls()
	require.NoError(t, e.process(j, 1), "refusing a URL is not a failure of the job")

	assert.Equal(t, 1, e.hostedCalls(), "only the message's own code snippet is fetched")
	assert.Empty(t, e.mm.uploadList(), "the other chat's image is not included")
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		msg := posts[0].Message
		assert.Empty(t, posts[0].FileIds)
		assert.NotContains(t, msg, "$value")
		assert.NotContains(t, msg, e.sim.GraphURL())
		assert.NotContains(t, msg, "graph.microsoft")
		// Each unavailable image is a paragraph of its own, apart from the snippet that follows.
		assert.Equal(t, attach.ImagePlaceholder+"\n\n"+attach.ImagePlaceholder+"\n\n```go\nx := 1\n```", msg)
	}
}

func TestPersistentFailureIsNamedAfterGiveUpAfter(t *testing.T) {
	e := newEnv(t, attach.Options{GiveUpAfter: 3})
	j := e.send(graphsim.NewMessage{
		HTML:   "<p>flaky</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}},
	})
	e.sim.InjectFault(graphsim.Fault{Route: "GET /chats/{id}/messages/{id}/hostedContents/{id}/$value", Status: 500})

	err := e.process(j, 2)
	require.Error(t, err, "a server error is retried with backoff")
	_, isRetryAfter := inbox.RetryAfterOf(err)
	assert.False(t, isRetryAfter)
	assert.False(t, inbox.IsPark(err))

	require.NoError(t, e.process(j, 3))
	posts := e.mm.followUps(e.targets[0].ChannelID)
	require.Len(t, posts, 1)
	assert.Equal(t, attach.ImagePlaceholder, posts[0].Message)
}

func TestRefusedUploadIsNamed(t *testing.T) {
	e := newEnv(t, attach.Options{})
	e.mm.failUpload = model.NewAppError("UploadFile", "api.file.upload_file.rejected_by_plugin.app_error", nil, "", http.StatusBadRequest)
	j := e.send(graphsim.NewMessage{HTML: "<p>x</p>", Files: []graphsim.FileRef{{Name: "x.exe", Bytes: []byte("MZ")}}})
	require.NoError(t, e.process(j, 1))
	posts := e.mm.followUps(e.targets[0].ChannelID)
	require.Len(t, posts, 1)
	assert.Contains(t, posts[0].Message, "**x.exe**: refused by Mattermost")
}

func TestEnqueueStoresADurableJobThatProcessDelivers(t *testing.T) {
	e := newEnv(t, attach.Options{})
	j := e.send(graphsim.NewMessage{HTML: "<p>queued</p>", Files: []graphsim.FileRef{{Name: "q.txt", Bytes: []byte("q")}}})
	dj := delivery.AttachJob{ChatID: j.ChatID, MessageID: j.MessageID, SenderTeamsID: j.SenderTeamsID, Files: j.Files}
	for _, tg := range j.Targets {
		dj.Targets = append(dj.Targets, delivery.AttachTarget{MMUserID: tg.MMUserID, ChannelID: tg.ChannelID, PostID: tg.PostID})
	}
	var attacher delivery.Attacher = e.svc
	ctx := context.Background()
	require.NoError(t, attacher.Enqueue(ctx, dj))
	require.NoError(t, attacher.Enqueue(ctx, dj), "a second enqueue of the same message collapses")
	require.NoError(t, attacher.Enqueue(ctx, delivery.AttachJob{ChatID: "c", MessageID: "m"}), "no files: nothing to do")
	assert.Empty(t, e.mm.uploadList(), "Enqueue does no work itself")

	items, err := e.store.ClaimInbox(ctx, inbox.QueueAttachments, 10, time.Now().Add(time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, items, 1)
	assert.True(t, strings.HasPrefix(items[0].DedupeKey, j.ChatID+"|"+j.MessageID+"|"), items[0].DedupeKey)
	var got attach.Job
	require.NoError(t, json.Unmarshal(items[0].Payload, &got))
	assert.Equal(t, j, got)

	// A job of the same message for another recipient is kept apart: collapsing it would lose the first one's.
	other := dj
	other.Targets = dj.Targets[:1]
	require.NoError(t, attacher.Enqueue(ctx, other))
	more, err := e.store.ClaimInbox(ctx, inbox.QueueAttachments, 10, time.Now().Add(time.Minute), time.Minute)
	require.NoError(t, err)
	require.Len(t, more, 1)
	assert.NotEqual(t, items[0].DedupeKey, more[0].DedupeKey)

	var h inbox.Handler = e.svc
	require.NoError(t, h.Process(ctx, inbox.Job{ID: items[0].ID, Queue: items[0].Queue, Payload: items[0].Payload, Attempts: 1}))
	for _, tg := range e.targets {
		assert.Len(t, e.mm.followUps(tg.ChannelID), 1)
	}
}

func TestUndecodableJobIsParked(t *testing.T) {
	e := newEnv(t, attach.Options{})
	err := e.svc.Process(context.Background(), inbox.Job{ID: 9, Queue: inbox.QueueAttachments, Payload: []byte("{not json"), Attempts: 1})
	assert.True(t, inbox.IsPark(err), "%v", err)
}

func TestFollowUpRefusedForOneRecipientDoesNotHoldBackTheOthers(t *testing.T) {
	e := newEnv(t, attach.Options{})
	gone := e.targets[1]
	gone.PostID = model.NewId() // the text DM was deleted: Mattermost refuses replies to it
	e.targets[1] = gone
	j := e.send(graphsim.NewMessage{HTML: "<p>x</p>", Files: []graphsim.FileRef{{Name: "x.txt", Bytes: []byte("x")}}})

	require.NoError(t, e.process(j, 1), "a refusal is final, not retried")
	assert.Empty(t, e.mm.followUps(gone.ChannelID))
	assert.Len(t, e.mm.followUps(e.targets[0].ChannelID), 1)
	assert.Len(t, e.mm.followUps(e.targets[2].ChannelID), 1)
	require.NoError(t, e.process(j, 2))
	assert.Empty(t, e.mm.followUps(gone.ChannelID), "and not tried again")
}

func TestTwoJobsOfOneMessageShareOneDownloadAndUpload(t *testing.T) {
	e := newEnv(t, attach.Options{})
	all := e.send(graphsim.NewMessage{
		HTML:   "<p>x</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}},
	})
	first := all
	first.Targets = all.Targets[:1]
	e.sim.ResetCalls()

	require.NoError(t, e.process(first, 1))
	require.NoError(t, e.process(all, 1))
	assert.Equal(t, 1, e.hostedCalls())
	assert.Len(t, e.mm.uploadList(), 1)
	for _, tg := range e.targets {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.Equal(t, []string{"image-1.png"}, e.mm.fileNames(posts[0]))
	}
}

// A channel message's files follow the channel, as in Teams: its inline image comes from the message under its
// team and channel (once for everyone the message went to), a file uploaded to the channel reaches those whose
// own account can read the channel's files now, and a file linked from someone's OneDrive only those it is
// shared with. The note for the others links to the message in its channel.
func TestChannelMessageFilesFollowTheReadersRights(t *testing.T) {
	e := newEnv(t, attach.Options{})
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	inChannel, alsoInChannel, notInChannel := e.targets[0], e.targets[1], e.targets[2]
	team, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: tenant, DisplayName: "Research", Members: append([]string{senderID}, teamsUsers...)})
	require.NoError(t, err)
	channel, err := e.sim.CreateChannel(team, graphsim.ChannelSpec{DisplayName: "Budget", MembershipType: "private",
		Members: []string{senderID, teamsUsers[0], teamsUsers[1]}})
	require.NoError(t, err)
	id, err := e.sim.SendChannelMessage(team, channel, graphsim.NewMessage{From: senderID, HTML: "<p>numbers</p>",
		Hosted: []graphsim.HostedContent{{ContentType: "image/png", Bytes: pngBytes(t, 4, 4)}},
		Files: []graphsim.FileRef{
			{Name: "budget.xlsx", Bytes: []byte("channel file")},
			{Name: "draft.docx", Bytes: []byte("personal file"), SharedWith: []string{teamsUsers[0]}},
		}})
	require.NoError(t, err)
	msg, err := e.factory.App().GetChannelMessage(context.Background(), team, channel, id, "")
	require.NoError(t, err)
	fm := format.Message{Body: msg.BodyHTML, BodyType: msg.BodyType}
	for _, a := range msg.Attachments {
		fm.Attachments = append(fm.Attachments, format.Attachment{ID: a.ID, ContentType: a.ContentType, ContentURL: a.ContentURL, Name: a.Name})
	}
	u, err := url.Parse(e.sim.GraphURL())
	require.NoError(t, err)
	res, err := format.Convert(fm, format.Options{GraphHosts: []string{u.Host}})
	require.NoError(t, err)
	require.Len(t, res.Files, 3)
	const link = "https://teams.microsoft.com/l/message/19%3Abudget/1?groupId=team"
	j := attach.Job{ChatID: team + "/" + channel, MessageID: id, SenderTeamsID: senderID, Files: res.Files, Targets: e.targets,
		Channel: &attach.ChannelMessage{TeamID: team, ChannelID: channel}, Link: link}
	e.sim.ResetCalls()

	require.NoError(t, e.process(j, 1))

	assert.Equal(t, 1, e.sim.CallCount("GET /teams/{id}/channels/{id}/messages/{id}/hostedContents/{id}/$value"), "the image is read once, from its channel")
	assert.Zero(t, e.hostedCalls(), "nothing is read as a chat's")
	want := map[attach.Target][]string{
		inChannel:     {"image-1.png", "budget.xlsx", "draft.docx"},
		alsoInChannel: {"image-1.png", "budget.xlsx"},
		notInChannel:  {"image-1.png"},
	}
	for tg, files := range want {
		posts := e.mm.followUps(tg.ChannelID)
		require.Len(t, posts, 1)
		assert.ElementsMatch(t, files, e.mm.fileNames(posts[0]), tg.MMUserID)
	}
	assert.Contains(t, e.mm.followUps(alsoInChannel.ChannelID)[0].Message, "- **draft.docx**: shared in Teams, but your Microsoft account has no access to it")
	note := e.mm.followUps(notInChannel.ChannelID)[0].Message
	assert.Contains(t, note, "- **budget.xlsx**: shared in Teams, but your Microsoft account has no access to it")
	assert.Contains(t, note, "[open the message in Teams]("+link+")", "the channel message's own link")
}

// A reply's image is read under its thread, and an image URL that points at another channel's message is not
// fetched with the app's token.
func TestChannelReplyImageIsReadUnderItsThreadAndNoOtherChannels(t *testing.T) {
	e := newEnv(t, attach.Options{})
	require.NoError(t, e.sim.SetAppRoles(clientID, []string{"Chat.Read.All", "ChannelMessage.Read.All"}))
	team, err := e.sim.CreateTeam(graphsim.TeamSpec{TenantID: tenant, DisplayName: "Research", Members: append([]string{senderID}, teamsUsers...)})
	require.NoError(t, err)
	var general string
	for _, tm := range e.sim.Teams() {
		if tm.ID == team {
			general = tm.Channels[0].ID
		}
	}
	other, err := e.sim.CreateChannel(team, graphsim.ChannelSpec{DisplayName: "Other"})
	require.NoError(t, err)
	root, err := e.sim.SendChannelMessage(team, general, graphsim.NewMessage{From: senderID, HTML: "<p>root</p>"})
	require.NoError(t, err)
	reply, err := e.sim.ReplyChannelMessage(team, general, root, graphsim.NewMessage{From: senderID, HTML: "<p>pic</p>",
		Hosted: []graphsim.HostedContent{{ID: "img1", ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}}})
	require.NoError(t, err)
	otherMsg, err := e.sim.SendChannelMessage(team, other, graphsim.NewMessage{From: senderID, HTML: "<p>elsewhere</p>",
		Hosted: []graphsim.HostedContent{{ID: "img9", ContentType: "image/png", Bytes: pngBytes(t, 2, 2)}}})
	require.NoError(t, err)
	base := e.sim.GraphURL() + "/teams/" + team + "/channels/"
	files := []format.FileRef{
		{Kind: format.FileHostedContent, URL: base + general + "/messages/" + root + "/replies/" + reply + "/hostedContents/img1/$value", Name: "image"},
		{Kind: format.FileHostedContent, URL: base + other + "/messages/" + otherMsg + "/hostedContents/img9/$value", Name: "image"},
	}
	j := attach.Job{ChatID: team + "/" + general, MessageID: reply, Files: files, Targets: e.targets[:1],
		Channel: &attach.ChannelMessage{TeamID: team, ChannelID: general, RootID: root}}
	e.sim.ResetCalls()

	require.NoError(t, e.process(j, 1))

	assert.Equal(t, 1, e.sim.CallCount("GET /teams/{id}/channels/{id}/messages/{id}/replies/{id}/hostedContents/{id}/$value"))
	assert.Zero(t, e.sim.CallCount("GET /teams/{id}/channels/{id}/messages/{id}/hostedContents/{id}/$value"), "the other channel's image is never asked for")
	posts := e.mm.followUps(e.targets[0].ChannelID)
	require.Len(t, posts, 1)
	assert.Equal(t, []string{"image-1.png"}, e.mm.fileNames(posts[0]))
}
