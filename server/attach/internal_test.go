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

func TestHostedContentRef(t *testing.T) {
	for _, tc := range []struct {
		url                   string
		chat, message, hosted string
		ok                    bool
	}{
		{url: "https://graph.microsoft.com/v1.0/chats/19:abc@thread.v2/messages/1712/hostedContents/aWQ9/$value",
			chat: "19:abc@thread.v2", message: "1712", hosted: "aWQ9", ok: true},
		{url: "https://127.0.0.1:4443/v1.0/chats/19%3Aabc%40unq.gbl.spaces/messages/1/hostedContents/x%3D%3D/$value",
			chat: "19:abc@unq.gbl.spaces", message: "1", hosted: "x==", ok: true},
		{url: "https://graph.microsoft.com/v1.0/chats/c/messages/m", ok: false},
		{url: "https://graph.microsoft.com/v1.0/chats//messages/m/hostedContents/h/$value", ok: false},
		{url: "::not a url", ok: false},
	} {
		c, m, h, ok := hostedContentRef(tc.url)
		assert.Equal(t, tc.ok, ok, tc.url)
		assert.Equal(t, []string{tc.chat, tc.message, tc.hosted}, []string{c, m, h}, tc.url)
	}
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
