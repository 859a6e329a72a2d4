package store

import (
	"context"
	"time"

	"github.com/pkg/errors"
)

// ChannelTeamsSince returns the ids of the Teams teams whose channel messages the plugin handled (delivered or
// decided against) since t. Channel rows of the posts map are keyed "teamID/channelID" (a chat id never holds a
// "/"). The channel catch-up lists these teams after a gap: a team none of whose messages ever concerned a
// connected user is not read.
func (s *Store) ChannelTeamsSince(ctx context.Context, t time.Time) ([]string, error) {
	rows, err := s.reader().Query(ctx, `
		SELECT DISTINCT split_part(chat_id, '/', 1) FROM msteamsnotify_posts
		 WHERE reserved_at >= $1 AND chat_id LIKE '%/%' ORDER BY 1`, t)
	if err != nil {
		return nil, errors.Wrap(err, "list teams with channel activity")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, errors.Wrap(err, "scan team id")
		}
		if id != "" {
			out = append(out, id)
		}
	}
	return out, errors.Wrap(rows.Err(), "list teams with channel activity")
}
