package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/server/store"
	"github.com/teamsnotify/msteams-sync/server/store/storetest"
)

func TestAttachmentFileFirstOutcomeWins(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	first, err := s.SaveAttachmentFile(ctx, store.AttachmentFile{ChatID: "c", MessageID: "m", FileKey: "k1", Name: "a.png", FileID: "f1", ChannelID: "ch1"})
	require.NoError(t, err)
	assert.Equal(t, "f1", first.FileID)

	// A racing worker that uploaded the same file again is handed the first upload.
	second, err := s.SaveAttachmentFile(ctx, store.AttachmentFile{ChatID: "c", MessageID: "m", FileKey: "k1", Name: "a.png", FileID: "f2", ChannelID: "ch2"})
	require.NoError(t, err)
	assert.Equal(t, "f1", second.FileID)
	assert.Equal(t, "ch1", second.ChannelID)

	_, err = s.SaveAttachmentFile(ctx, store.AttachmentFile{ChatID: "c", MessageID: "m", FileKey: "k2", Name: "big.zip", Problem: "too_large"})
	require.NoError(t, err)
	_, err = s.SaveAttachmentFile(ctx, store.AttachmentFile{ChatID: "c", MessageID: "other", FileKey: "k1", Snippet: "x := 1", Language: "go"})
	require.NoError(t, err)

	files, err := s.GetAttachmentFiles(ctx, "c", "m")
	require.NoError(t, err)
	require.Len(t, files, 2)
	assert.Equal(t, "f1", files["k1"].FileID)
	assert.Equal(t, "too_large", files["k2"].Problem)
	assert.False(t, files["k2"].CreatedAt.IsZero())

	_, err = s.SaveAttachmentFile(ctx, store.AttachmentFile{ChatID: "c", MessageID: "m"})
	assert.Error(t, err, "a file key is required")
}

func TestAttachmentPostReserveThenPosted(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	p, err := s.ReserveAttachmentPost(ctx, "c", "m", "u1")
	require.NoError(t, err)
	assert.Equal(t, store.AttachmentPostReserved, p.State)

	// Reserving again (a retry after a crash) keeps it reserved: the caller must look for the post.
	p, err = s.ReserveAttachmentPost(ctx, "c", "m", "u1")
	require.NoError(t, err)
	assert.Equal(t, store.AttachmentPostReserved, p.State)

	require.NoError(t, s.MarkAttachmentPosted(ctx, "c", "m", "u1", "post1"))
	p, err = s.ReserveAttachmentPost(ctx, "c", "m", "u1")
	require.NoError(t, err)
	assert.Equal(t, store.AttachmentPost{ChatID: "c", MessageID: "m", MMUserID: "u1", State: store.AttachmentPostPosted, PostID: "post1"}, p,
		"a posted row is never reset to reserved")

	require.NoError(t, s.MarkAttachmentPosted(ctx, "c", "m", "u2", "post2"))
	posts, err := s.GetAttachmentPosts(ctx, "c", "m")
	require.NoError(t, err)
	assert.Len(t, posts, 2)
	assert.Equal(t, "post2", posts["u2"].PostID)
}

func TestAttachmentLockIsExclusiveAndReleased(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()

	unlock, ok, err := s.TryAttachmentLock(ctx, "c", "m")
	require.NoError(t, err)
	require.True(t, ok)

	_, ok2, err := s.TryAttachmentLock(ctx, "c", "m")
	require.NoError(t, err)
	assert.False(t, ok2, "a second worker does not get the same message")

	unlockOther, ok3, err := s.TryAttachmentLock(ctx, "c", "other")
	require.NoError(t, err)
	assert.True(t, ok3, "other messages are independent")
	unlockOther()

	unlock()
	unlock2, ok4, err := s.TryAttachmentLock(ctx, "c", "m")
	require.NoError(t, err)
	assert.True(t, ok4, "free again after unlock")
	unlock2()
}

func TestDeleteAttachmentsBefore(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := context.Background()
	_, err := s.SaveAttachmentFile(ctx, store.AttachmentFile{ChatID: "c", MessageID: "m", FileKey: "k", FileID: "f"})
	require.NoError(t, err)
	require.NoError(t, s.MarkAttachmentPosted(ctx, "c", "m", "u", "p"))

	n, err := s.DeleteAttachmentsBefore(ctx, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n, "fresh rows stay")

	n, err = s.DeleteAttachmentsBefore(ctx, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
	files, err := s.GetAttachmentFiles(ctx, "c", "m")
	require.NoError(t, err)
	assert.Empty(t, files)
}
