package attach

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/format"
)

func TestOnlyTheJobsOwnHostedContentsOnTheConfiguredGraphAreFetched(t *testing.T) {
	const (
		base = "https://graph.microsoft.com/v1.0"
		chat = "19:abc@thread.v2"
		msg  = "1712"
	)
	for _, tc := range []struct {
		url, hosted string
	}{
		{url: base + "/chats/19:abc@thread.v2/messages/1712/hostedContents/aWQ9/$value", hosted: "aWQ9"},
		{url: base + "/chats/19%3Aabc%40thread.v2/messages/1712/hostedContents/x%3D%3D/$value", hosted: "x=="},
		{url: "https://GRAPH.microsoft.com/v1.0/Chats/19:abc@thread.v2/messages/1712/hostedcontents/h/$value", hosted: "h"},
		{url: base + "/chats/19:other@thread.v2/messages/1712/hostedContents/h/$value"}, // another chat
		{url: base + "/chats/19:abc@thread.v2/messages/1713/hostedContents/h/$value"},   // another message
		{url: "https://graph.microsoft.us/v1.0/chats/19:abc@thread.v2/messages/1712/hostedContents/h/$value"},
		{url: "http://graph.microsoft.com/v1.0/chats/19:abc@thread.v2/messages/1712/hostedContents/h/$value"},
		{url: "https://graph.microsoft.com/beta/chats/19:abc@thread.v2/messages/1712/hostedContents/h/$value"},
		{url: base + "/chats/19:abc@thread.v2/messages/1712/hostedContents/h/$value?x=1"},
		{url: base + "/chats/19:abc@thread.v2/messages/1712/hostedContents/h"},
		{url: base + "/chats/19:abc@thread.v2/messages/1712/hostedContents/a%2F..%2Fb/$value"},
		{url: base + "/chats/19:abc@thread.v2/messages/1712/hostedContents/../$value"},
		{url: "https://user@graph.microsoft.com/v1.0/chats/19:abc@thread.v2/messages/1712/hostedContents/h/$value"},
		{url: base + "/chats/19:x/../19:abc@thread.v2/messages/1712/hostedContents/h/$value"},
		{url: "::not a url"},
	} {
		id, ok := hostedContentOf(tc.url, base, Job{ChatID: chat, MessageID: msg}.hostedPrefix())
		assert.Equal(t, tc.hosted != "", ok, tc.url)
		assert.Equal(t, tc.hosted, id, tc.url)
	}
}

func TestAChannelMessageFetchesOnlyItsOwnHostedContents(t *testing.T) {
	const (
		base    = "https://graph.microsoft.com/v1.0"
		team    = "5f6e-team"
		channel = "19:general@thread.tacv2"
		root    = "1700"
		reply   = "1712"
	)
	post := Job{ChatID: team + "/" + channel, MessageID: root, Channel: &ChannelMessage{TeamID: team, ChannelID: channel}}
	answer := Job{ChatID: team + "/" + channel, MessageID: reply, Channel: &ChannelMessage{TeamID: team, ChannelID: channel, RootID: root}}
	for _, tc := range []struct {
		name   string
		job    Job
		url    string
		hosted string
	}{
		{"a post's image", post, base + "/teams/5f6e-team/channels/19:general@thread.tacv2/messages/1700/hostedContents/aWQ9/$value", "aWQ9"},
		{"escaped ids, other case for names", post, base + "/Teams/5f6e-team/Channels/19%3Ageneral%40thread.tacv2/Messages/1700/HostedContents/h/$value", "h"},
		{"a reply's image", answer, base + "/teams/5f6e-team/channels/19:general@thread.tacv2/messages/1700/replies/1712/hostedContents/h/$value", "h"},
		{"the reply's thread root, not the reply", answer, base + "/teams/5f6e-team/channels/19:general@thread.tacv2/messages/1700/hostedContents/h/$value", ""},
		{"a reply named as a post", answer, base + "/teams/5f6e-team/channels/19:general@thread.tacv2/messages/1712/hostedContents/h/$value", ""},
		{"another team", post, base + "/teams/other/channels/19:general@thread.tacv2/messages/1700/hostedContents/h/$value", ""},
		{"another channel", post, base + "/teams/5f6e-team/channels/19:private@thread.tacv2/messages/1700/hostedContents/h/$value", ""},
		{"a chat's image", post, base + "/chats/19:general@thread.tacv2/messages/1700/hostedContents/h/$value", ""},
		{"another reply of the thread", answer, base + "/teams/5f6e-team/channels/19:general@thread.tacv2/messages/1700/replies/1713/hostedContents/h/$value", ""},
	} {
		id, ok := hostedContentOf(tc.url, base, tc.job.hostedPrefix())
		assert.Equal(t, tc.hosted != "", ok, tc.name)
		assert.Equal(t, tc.hosted, id, tc.name)
	}
	chatJob := Job{ChatID: "19:general@thread.tacv2", MessageID: root}
	_, ok := hostedContentOf(base+"/teams/5f6e-team/channels/19:general@thread.tacv2/messages/1700/hostedContents/h/$value", base, chatJob.hostedPrefix())
	assert.False(t, ok, "a chat message never fetches a channel's image")
}

func TestSpoolKeepsSmallInMemoryAndLargeOnDisk(t *testing.T) {
	dir := t.TempDir()
	small, err := spool(bytes.NewReader([]byte("abc")), 100, 10, dir)
	require.NoError(t, err)
	assert.Nil(t, small.file)
	assert.Equal(t, []byte("abc"), small.data)

	data := bytes.Repeat([]byte("x"), 50)
	large, err := spool(bytes.NewReader(data), 100, 10, dir)
	require.NoError(t, err)
	require.NotNil(t, large.file, "over the memory limit: a temp file")
	assert.LessOrEqual(t, len(large.data), 0, "nothing kept in memory")
	assert.EqualValues(t, 50, large.size)
	r, err := large.reader()
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	name := large.file.Name()
	large.close()
	_, err = os.Stat(name)
	assert.True(t, os.IsNotExist(err), "closed means removed")

	// A body without a Content-Length that runs past the limit is cut off and named too large.
	_, err = spool(bytes.NewReader(bytes.Repeat([]byte("y"), 101)), 100, 10, dir)
	p, ok := problemOf(err)
	assert.True(t, ok)
	assert.Equal(t, ProblemTooLarge, p)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, left, "no temp file left behind")
}

func TestNames(t *testing.T) {
	assert.Equal(t, "image-2.png", defaultName(format.FileRef{Kind: format.FileHostedContent, Name: "image"}, 2, "image/png"))
	assert.Equal(t, "diagram.jpg", defaultName(format.FileRef{Kind: format.FileHostedContent, Name: "diagram"}, 1, "image/jpeg; charset=binary"))
	assert.Equal(t, "photo.gif", defaultName(format.FileRef{Kind: format.FileHostedContent, Name: "photo.gif"}, 1, "image/png"))
	assert.Equal(t, "image-3", defaultName(format.FileRef{Kind: format.FileHostedContent}, 3, ""))
	assert.Equal(t, "a_b_c.txt", cleanName("a/b\\c.txt"))
	assert.Equal(t, "file", cleanName(".."))
	assert.Equal(t, "tab.txt", cleanName("ta\tb.txt"))
}
