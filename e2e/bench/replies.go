package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
)

// Replies (issue 16): while messages keep arriving, users answer DMs of the run before in their threads. Each
// answer goes from Mattermost through the plugin to Teams as the user, and comes back to the chat's other members
// as a DM. The run measures whether answering slows delivery (against the same load without answers, run just
// before), how long an answer takes to reach the other members, and what each answer costs in Graph calls.

// ReplyStats are a replies run's own figures.
type ReplyStats struct {
	Posted  int `json:"posted"`   // thread replies posted in Mattermost
	InTeams int `json:"in_teams"` // of them, found in graphsim as the user's message
	Failed  int `json:"failed"`   // posts Mattermost refused
	// Delivery is from the reply's post in Mattermost to its DM for another chat member.
	Delivery Summary `json:"delivery"`
	// GraphCallsPerReply counts the delegated Graph calls of the run (token requests apart) per reply: only
	// replies make delegated calls when no message carries a file.
	GraphCallsPerReply float64 `json:"graph_calls_per_reply"`
	Count              Count   `json:"count"` // the reply DMs alone
}

// dmRef is one text DM that a user can answer in its thread.
type dmRef struct {
	PostID, ChannelID, ChatID, Recipient string
}

// Answerable returns up to limit text DMs created at or after t, oldest first.
func (r *PostReader) Answerable(ctx context.Context, t time.Time, limit int) (out []dmRef, err error) {
	err = r.DB.with(ctx, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `
			SELECT p.id, p.channelid, p.props->>'msteams_chat_id', c.name
			  FROM posts p JOIN channels c ON c.id = p.channelid
			 WHERE p.userid = $1 AND c.type = 'D' AND p.createat >= $2 AND p.deleteat = 0 AND p.rootid = ''
			   AND p.props->>'msteams_chat_id' IS NOT NULL AND p.props->>'`+propMessageID+`' IS NOT NULL
			 ORDER BY p.createat LIMIT $3`, r.BotUserID, t.UnixMilli(), limit)
		if err != nil {
			return errors.Wrap(err, "query answerable DMs")
		}
		defer rows.Close()
		for rows.Next() {
			var d dmRef
			var name string
			if err := rows.Scan(&d.PostID, &d.ChannelID, &d.ChatID, &name); err != nil {
				return errors.Wrap(err, "scan DM")
			}
			d.Recipient = otherMember(name, r.BotUserID)
			out = append(out, d)
		}
		return errors.Wrap(rows.Err(), "read DMs")
	})
	return out, err
}

type reply struct {
	dm     dmRef
	marker string
	at     time.Time
}

// replier posts answers from a pool of DMs, round robin, from many goroutines.
type replier struct {
	e    *Env
	pool []dmRef
	wg   sync.WaitGroup
	mu   sync.Mutex
	next int
	done []reply
	fail int
}

func (e *Env) newReplier(ctx context.Context, since time.Time) (*replier, error) {
	pool, err := e.Posts.Answerable(ctx, since, 5000)
	if err != nil {
		return nil, err
	}
	if len(pool) == 0 {
		return nil, errors.New("replies: no DM of the previous run to answer")
	}
	return &replier{e: e, pool: pool}, nil
}

// answer posts one reply in the background, so that the load's pacing never waits for Mattermost.
func (rp *replier) answer(ctx context.Context, seq int) {
	rp.mu.Lock()
	dm := rp.pool[rp.next%len(rp.pool)]
	rp.next++
	rp.mu.Unlock()
	client := rp.e.clients[dm.Recipient]
	if client == nil {
		rp.mu.Lock()
		rp.fail++
		rp.mu.Unlock()
		return
	}
	rp.wg.Add(1)
	go func() {
		defer rp.wg.Done()
		marker := fmt.Sprintf("bench reply %d", seq)
		at := time.Now()
		_, _, err := client.CreatePost(ctx, &model.Post{ChannelId: dm.ChannelID, RootId: dm.PostID, Message: marker + " **done**"})
		rp.mu.Lock()
		defer rp.mu.Unlock()
		if err != nil {
			rp.fail++
			return
		}
		rp.done = append(rp.done, reply{dm: dm, marker: marker, at: at})
	}()
}

// settle waits for the posted replies to reach Teams and returns what each must produce: one DM per other
// member of the chat, counted from the moment the user posted.
func (rp *replier) settle(ctx context.Context, wait time.Duration) ([]Sent, ReplyStats) {
	rp.wg.Wait()
	st := ReplyStats{Posted: len(rp.done), Failed: rp.fail}
	members := map[string][]int{}
	for _, c := range append(append([]Chat{}, rp.e.OneOne...), rp.e.Groups...) {
		members[c.ID] = c.Members
	}
	pending := append([]reply(nil), rp.done...)
	var out []Sent
	deadline := time.Now().Add(wait)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		var still []reply
		for _, r := range pending {
			replier := rp.e.person(r.dm.Recipient)
			id := ""
			for _, m := range rp.e.Sim.MessagesFrom(r.dm.ChatID, replier.TeamsID) {
				if strings.Contains(m.HTML, r.marker+" ") || strings.Contains(m.HTML, r.marker+"<") {
					id = m.ID
				}
			}
			if id == "" {
				still = append(still, r)
				continue
			}
			s := Sent{ChatID: r.dm.ChatID, MessageID: id, Created: r.at}
			for _, m := range members[r.dm.ChatID] {
				if p := rp.e.People[m]; p.MMID != r.dm.Recipient {
					s.Recipients = append(s.Recipients, p.MMID)
				}
			}
			out = append(out, s)
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	st.InTeams = len(out)
	return out, st
}

func (e *Env) person(mmID string) Person {
	for _, p := range e.People {
		if p.MMID == mmID {
			return p
		}
	}
	return Person{}
}
