package graphsim

import "github.com/pkg/errors"

// Seed is an initial state: apps, users and chats (chats may name their ids so
// later scripts can refer to them).
type Seed struct {
	Apps  []AppRegistration `json:"apps"`
	Users []User            `json:"users"`
	Chats []ChatSpec        `json:"chats"`
	Teams []TeamSpec        `json:"teams,omitempty"`
}

// LoadSeed adds everything in seed, in order: apps, users, chats, teams (with their channels and tags).
func (s *Sim) LoadSeed(seed Seed) error {
	for _, a := range seed.Apps {
		if err := s.AddApp(a); err != nil {
			return errors.Wrapf(err, "seed app %s", a.ClientID)
		}
	}
	for _, u := range seed.Users {
		if err := s.AddUser(u); err != nil {
			return errors.Wrapf(err, "seed user %s", u.ID)
		}
	}
	for _, c := range seed.Chats {
		if _, err := s.CreateChat(c); err != nil {
			return errors.Wrapf(err, "seed chat %s", c.ID)
		}
	}
	for _, t := range seed.Teams {
		if _, err := s.CreateTeam(t); err != nil {
			return errors.Wrapf(err, "seed team %s", t.DisplayName)
		}
	}
	return nil
}

// Demo tenant constants used by DemoSeed (and `graphsim serve --demo`).
const (
	DemoTenantID     = "72f988bf-0000-4000-8000-00000000d3e0"
	DemoClientID     = "d3e0c11e-0000-4000-8000-00000000a99a"
	DemoClientSecret = "graphsim-demo-secret"
	DemoAliceID      = "d3e0a11c-0000-4000-8000-000000000001"
	DemoBobID        = "d3e0b0b0-0000-4000-8000-000000000002"
	DemoCarolID      = "d3e0ca01-0000-4000-8000-000000000003"
	DemoGroupChatID  = "19:d3e0000000000000000000000000demo@thread.v2"
	// The demo team (Alice owns it; Bob and Carol are members) has a standard channel, a private
	// channel of Alice and Bob, and a tag given to Bob and Carol.
	DemoTeamID           = "d3e07ea0-0000-4000-8000-0000000007ea"
	DemoChannelID        = "19:d3e0000000000000000000000channel@thread.tacv2"
	DemoPrivateChannelID = "19:d3e0000000000000000000000private@thread.tacv2"
	DemoTagID            = "ZDNlMGRlbW8tdGFn"
)

// DemoSeed is a small tenant: one app with the plugin's application
// permissions, three users, their 1:1 chats, a group chat and a team with channels and a tag.
func DemoSeed(redirectURIs ...string) Seed {
	return Seed{
		Apps: []AppRegistration{{
			TenantID: DemoTenantID, ClientID: DemoClientID, ClientSecret: DemoClientSecret, DisplayName: "Mattermost Teams Sync (demo)",
			RedirectURIs: redirectURIs,
			AppRoles:     []string{"Chat.Read.All", "ChatMember.Read.All", "Presence.Read.All", "User.Read.All", "Files.Read.All", "Application.Read.All"},
		}},
		Users: []User{
			{ID: DemoAliceID, TenantID: DemoTenantID, DisplayName: "Alice Adams", Mail: "alice@demo.test", UserPrincipalName: "alice@demo.test", ProxyAddresses: []string{"SMTP:alice@demo.test"}},
			{ID: DemoBobID, TenantID: DemoTenantID, DisplayName: "Bob Brown", Mail: "bob@demo.test", UserPrincipalName: "bob@demo.test", ProxyAddresses: []string{"SMTP:bob@demo.test"}},
			{ID: DemoCarolID, TenantID: DemoTenantID, DisplayName: "Carol Clark", Mail: "carol@demo.test", UserPrincipalName: "carol@demo.test", ProxyAddresses: []string{"SMTP:carol@demo.test"}},
		},
		Chats: []ChatSpec{
			{ChatType: "oneOnOne", Members: []string{DemoAliceID, DemoBobID}},
			{ChatType: "oneOnOne", Members: []string{DemoAliceID, DemoCarolID}},
			{ID: DemoGroupChatID, ChatType: "group", Topic: "Demo group", Members: []string{DemoAliceID, DemoBobID, DemoCarolID}},
		},
		Teams: []TeamSpec{{
			ID: DemoTeamID, DisplayName: "Demo team", Owners: []string{DemoAliceID}, Members: []string{DemoBobID, DemoCarolID},
			Channels: []ChannelSpec{
				{ID: DemoChannelID, DisplayName: "Demo channel"},
				{ID: DemoPrivateChannelID, DisplayName: "Demo private", MembershipType: "private", Owners: []string{DemoAliceID}, Members: []string{DemoBobID}},
			},
			Tags: []TagSpec{{ID: DemoTagID, DisplayName: "Demo tag", Members: []string{DemoBobID, DemoCarolID}}},
		}},
	}
}
