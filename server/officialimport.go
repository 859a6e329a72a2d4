package main

import (
	"context"
	"sync"
	"time"

	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/diagnostics"
	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/switchover"
)

// officialImportState keeps the outcome of the switch from the official plugin for the admin status.
type officialImportState struct {
	mu   sync.Mutex
	info *diagnostics.OfficialImport
}

func (s *officialImportState) set(info *diagnostics.OfficialImport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info = info
}

func (s *officialImportState) get() *diagnostics.OfficialImport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// takeOverOfficialPlugin imports, once, the users the official MS Teams plugin left in this database, so that
// replacing it with this plugin needs no one to connect again. A failure does not stop the activation (nothing
// was imported, and the next activation tries again); it is logged and shown in the admin status. It reports
// whether users were taken over just now, so that their missed messages are caught up.
func (p *Plugin) takeOverOfficialPlugin(ctx context.Context, cfg config.Configuration, keyring *secrets.Keyring) bool {
	res, err := switchover.Import(ctx, switchover.Options{
		Store:        p.store,
		Sealer:       keyring,
		OfficialKey:  cfg.EncryptionKey,
		InviteExpiry: time.Duration(cfg.InviteExpiryDays) * 24 * time.Hour,
		Now:          time.Now,
	})
	switch {
	case err != nil:
		p.API.LogError("Could not take over the official MS Teams plugin's users; will try again at the next start.", "error", err.Error())
		p.officialImport.set(&diagnostics.OfficialImport{Error: err.Error()})
		return false
	case !res.Found:
		return false
	}
	rec := res.Record
	at := rec.At
	p.officialImport.set(&diagnostics.OfficialImport{ImportedAt: &at, Connected: rec.Connected, Disconnected: rec.Disconnected,
		Whitelist: rec.Whitelist, Invites: rec.Invites, NotImported: rec.NotImported})
	if !res.Imported {
		return false
	}
	p.API.LogInfo("Took over the official MS Teams plugin's users: they keep receiving messages without connecting again.",
		"connected", rec.Connected, "disconnected", rec.Disconnected, "whitelist", rec.Whitelist,
		"invites", rec.Invites, "not_imported", len(rec.NotImported))
	for _, n := range rec.NotImported {
		p.API.LogWarn("A user of the official MS Teams plugin was not taken over as is.", "user_id", n.MMUserID, "reason", n.Reason)
		if n.MustReconnect {
			p.connect.NotifyConnectionLost(n.MMUserID)
		}
	}
	return rec.Connected > 0
}
