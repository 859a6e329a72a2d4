package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// A mention of a whole team (issue 17): what it costs the plugin in Graph calls and DMs when the team is large
// and one connected member chose to hear of team mentions. The other members exist only in Teams (an unlicensed
// Mattermost server refuses its 251st user), which is the common case: most of a big team is not connected.

// bigTeam is created on first use: members Teams users, the bench's people among them, and one listener.
type bigTeam struct {
	id, general string
	listener    int // index into Env.People
}

func (e *Env) ensureBigTeam(ctx context.Context, members int) (*bigTeam, error) {
	if e.big != nil {
		return e.big, nil
	}
	spec := graphsim.TeamSpec{TenantID: harness.TeamsTenantID, DisplayName: fmt.Sprintf("All hands (%d)", members)}
	for _, p := range e.People {
		spec.Members = append(spec.Members, p.TeamsID)
	}
	for i := len(e.People); i < members; i++ {
		u := graphsim.User{ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", i), TenantID: harness.TeamsTenantID,
			DisplayName: fmt.Sprintf("Teams-only %05d", i), Mail: fmt.Sprintf("teamsonly%05d@bench.test", i),
			UserPrincipalName: fmt.Sprintf("teamsonly%05d@bench.test", i)}
		if err := e.Sim.AddUser(u); err != nil {
			return nil, errors.Wrap(err, "add a Teams-only user")
		}
		spec.Members = append(spec.Members, u.ID)
	}
	id, err := e.Sim.CreateTeam(spec)
	if err != nil {
		return nil, errors.Wrap(err, "create the big team")
	}
	bt := &bigTeam{id: id, listener: len(e.People) / 2}
	for _, info := range e.Sim.Teams() {
		if info.ID == id && len(info.Channels) > 0 {
			bt.general = info.Channels[0].ID
		}
	}
	// What `/msteams channels mentions all` stores for the listener.
	err = e.DB.with(ctx, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `UPDATE msteamsnotify_users SET channel_group_mentions = true WHERE mm_user_id = $1`,
			e.People[bt.listener].MMID)
		return errors.Wrap(err, "opt the listener into team mentions")
	})
	if err != nil {
		return nil, err
	}
	e.big = bt
	return bt, nil
}

// sendTeamMention posts a mention of the whole big team; only the listener must get a DM.
func (e *Env) sendTeamMention(ctx context.Context, l *Load, seq int, ledger *Ledger) error {
	bt, err := e.ensureBigTeam(ctx, l.TeamMembers)
	if err != nil {
		return err
	}
	from := (bt.listener + 1 + seq) % len(e.People)
	m := graphsim.NewMessage{From: e.People[from].TeamsID,
		HTML:     `<p><at id="0">All hands</at> bench ` + l.Name + " team mention " + strconv.Itoa(seq) + "</p>",
		Mentions: []graphsim.Mention{{ID: 0, MentionText: "All hands", TeamID: bt.id}}}
	sentAt := time.Now()
	id, err := e.Sim.SendChannelMessage(bt.id, bt.general, m)
	if err != nil {
		return errors.Wrap(err, "send a team mention")
	}
	ledger.Add(Sent{ChatID: bt.id + "/" + bt.general, MessageID: id, Created: sentAt, Recipients: []string{e.People[bt.listener].MMID}})
	return nil
}
