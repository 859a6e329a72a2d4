package main

import (
	"net/http"
	"net/url"

	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// channelTarget holds --team and --channel, the channel alternative to --chat.
type channelTarget struct{ team, channel string }

func channelFlags(c *cmdline) *channelTarget {
	t := &channelTarget{}
	c.StringVar(&t.team, "team", "", "team id (with --channel, instead of --chat)")
	c.StringVar(&t.channel, "channel", "", "channel id in --team")
	return t
}

// path is the control path of the messages of the chat or channel the flags name; a thread makes it
// the thread's replies.
func (t *channelTarget) path(c *cmdline, chatID, thread string) (string, error) {
	switch {
	case chatID != "" && (t.team != "" || t.channel != ""):
		return "", errUsage{errors.Errorf("--chat or --team/--channel, not both (see graphsim %s --help)", c.name)}
	case chatID != "":
		if thread != "" {
			return "", errUsage{errors.New("--thread is for channels; quote a chat message with --reply-to")}
		}
		return messagesPath(chatID), nil
	case t.team == "" || t.channel == "":
		return "", errUsage{errors.Errorf("--chat, or --team and --channel, is required (see graphsim %s --help)", c.name)}
	}
	p := "/teams/" + url.PathEscape(t.team) + "/channels/" + url.PathEscape(t.channel) + "/messages"
	if thread != "" {
		p += "/" + url.PathEscape(thread) + "/replies"
	}
	return p, nil
}

// channelMentions are the team, channel and tag mentions of a channel message.
type channelMentions struct {
	team           bool
	channels, tags multi
}

func (cm *channelMentions) flags(c *cmdline) {
	c.BoolVar(&cm.team, "mention-team", false, `mention the --team, by <at id="N"> after the user mentions`)
	c.Var(&cm.channels, "mention-channel", `mention a channel of the --team, numbered after the team mention (repeatable)`)
	c.Var(&cm.tags, "mention-tag", `mention a tag of the --team, numbered after the channel mentions (repeatable)`)
}

// add appends the team, channel and tag mentions, numbered after the ones already there, with the
// display names Teams would show.
func (cm *channelMentions) add(a *api, t *channelTarget, ms []graphsim.Mention) ([]graphsim.Mention, error) {
	if !cm.team && len(cm.channels) == 0 && len(cm.tags) == 0 {
		return ms, nil
	}
	if t.team == "" {
		return nil, errUsage{errors.New("--mention-team, --mention-channel and --mention-tag need --team and --channel")}
	}
	var teams []graphsim.TeamInfo
	if err := a.do(http.MethodGet, "/teams", nil, &teams); err != nil {
		return nil, err
	}
	var team *graphsim.TeamInfo
	for i := range teams {
		if teams[i].ID == t.team {
			team = &teams[i]
		}
	}
	if team == nil {
		return nil, errors.Errorf("no team %q", t.team)
	}
	next := len(ms)
	if cm.team {
		ms = append(ms, graphsim.Mention{ID: next, MentionText: team.DisplayName, TeamID: team.ID})
		next++
	}
	for _, want := range cm.channels {
		id, name, err := byIDOrName("channel", team.ID, want, team.Channels, func(ch graphsim.ChannelInfo) (string, string) { return ch.ID, ch.DisplayName })
		if err != nil {
			return nil, err
		}
		ms = append(ms, graphsim.Mention{ID: next, MentionText: name, ChannelID: id})
		next++
	}
	for _, want := range cm.tags {
		id, name, err := byIDOrName("tag", team.ID, want, team.Tags, func(g graphsim.TagInfo) (string, string) { return g.ID, g.DisplayName })
		if err != nil {
			return nil, err
		}
		ms = append(ms, graphsim.Mention{ID: next, MentionText: name, TagID: id})
		next++
	}
	return ms, nil
}

// byIDOrName resolves what --mention-channel or --mention-tag names, an id or a display name, among the
// team's channels or tags (idName gives each one's id and display name), to the id the mention carries
// and the name Teams shows; one lookup for both, so that the two flags accept the same forms. Each
// candidate is compared with the id resolved so far, so a display name two of them share resolves to
// the first.
func byIDOrName[T any](noun, teamID, want string, list []T, idName func(T) (string, string)) (id, name string, err error) {
	id = want
	for _, x := range list {
		xid, xname := idName(x)
		if xid == id || xname == id {
			id, name = xid, xname
		}
	}
	if name == "" {
		return "", "", errors.Errorf("no %s %q in team %s", noun, id, teamID)
	}
	return id, name, nil
}

func listTeams(c *cmdline) error {
	a, err := parseClient(c, connect(c))
	if err != nil {
		return err
	}
	return a.do(http.MethodGet, "/teams", nil, nil)
}
