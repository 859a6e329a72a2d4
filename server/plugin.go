package main

import (
	"context"
	"encoding/base64"
	"github.com/teamsnotify/msteams-sync/server/accountlink"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"
	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/pkg/errors"
	"golang.org/x/oauth2"

	"github.com/teamsnotify/msteams-sync/server/api"
	"github.com/teamsnotify/msteams-sync/server/channeldelivery"
	"github.com/teamsnotify/msteams-sync/server/command"
	"github.com/teamsnotify/msteams-sync/server/config"
	"github.com/teamsnotify/msteams-sync/server/connect"
	"github.com/teamsnotify/msteams-sync/server/diagnostics"
	"github.com/teamsnotify/msteams-sync/server/graph"
	"github.com/teamsnotify/msteams-sync/server/metrics"
	"github.com/teamsnotify/msteams-sync/server/reply"
	"github.com/teamsnotify/msteams-sync/server/secrets"
	"github.com/teamsnotify/msteams-sync/server/store"
)

// Plugin wires the packages together and implements the Mattermost plugin hooks. It holds no business logic:
// every decision lives in the package named for it.
type Plugin struct {
	plugin.MattermostPlugin

	client *pluginapi.Client

	// mu guards the settings and everything rebuilt from them.
	mu      sync.RWMutex
	cfg     config.Configuration
	factory *graph.Factory
	keyring *secrets.Keyring

	// Set once in OnActivate.
	store    *store.Store
	botID    string
	connect  *connect.Service
	commands *command.Handler
	router   http.Handler
	pipeline *pipeline
	metrics  *metrics.Metrics
	log      *serverLogger
	diag     *diagnostics.Diagnostics
	replies  *reply.Service

	officialImport officialImportState

	// bgCtx ends when the plugin deactivates; background work started with runBackground watches it.
	bgCtx  context.Context
	stopBg context.CancelFunc
	bg     sync.WaitGroup
}

const botUsername = "msteams"

// version is the plugin version, set at build time from plugin.json (Makefile).
var version = "dev"

// OnActivate refuses to start, with a message the admin sees in the plugin status, when the settings or the
// database cannot work; otherwise it migrates the plugin's tables, creates the bot and starts the pipeline.
func (p *Plugin) OnActivate() error {
	p.client = pluginapi.NewClient(p.API, p.Driver)
	p.log = newServerLogger(p.API)
	p.log.follow(p.API.GetConfig())
	p.bgCtx, p.stopBg = context.WithCancel(context.Background())
	p.metrics = metrics.New(version)

	mmcfg := p.API.GetUnsanitizedConfig()
	if err := checkDatabase(mmcfg); err != nil {
		return err
	}

	cfg, err := p.loadConfiguration()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		p.API.LogWarn("MS Teams settings need attention.", "problem", w)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	st, err := store.Open(ctx, store.Options{
		DataSource:      *mmcfg.SqlSettings.DataSource,
		Replicas:        mmcfg.SqlSettings.DataSourceReplicas,
		ApplicationName: "msteams-sync-plugin",
		MaxConns:        storeMaxConns,
		Tracer:          p.metrics.DBTracer(),
	})
	if err != nil {
		return errors.Wrap(err, "MS Teams plugin could not open the Mattermost database")
	}
	// A refused activation leaves nothing behind: no open pool, no background work, no half-wired plugin
	// that a later OnConfigurationChange would act on.
	activated := false
	defer func() {
		if !activated {
			p.stopBg()
			st.Close()
			p.store = nil
		}
	}()
	if err := st.Migrate(ctx); err != nil {
		return errors.Wrap(err, "MS Teams plugin could not create or upgrade its tables")
	}

	cipher, err := secrets.NewCipher(cfg.EncryptionKey)
	if err != nil {
		return errors.Wrap(err, "MS Teams plugin could not use the At-rest encryption key")
	}
	// A key change interrupted by a crash or restart is finished before anyone's token is read.
	if n, err := st.ResumeKeyRotation(ctx, cipher); err != nil {
		p.API.LogError("Could not finish re-encrypting tokens with the new encryption key; will retry at the next start.", "error", err.Error())
	} else if n > 0 {
		p.API.LogInfo("Finished re-encrypting stored tokens with the new encryption key.", "tokens", n)
	}

	factory, err := p.newGraphFactory(cfg)
	if err != nil {
		return errors.Wrap(err, "MS Teams plugin could not set up the Microsoft Graph client")
	}

	botID, err := p.client.Bot.EnsureBot(&model.Bot{
		Username:    botUsername,
		DisplayName: "MS Teams",
		Description: "Delivers your Microsoft Teams chat messages while you are away from Teams.",
	}, pluginapi.ProfileImagePath(filepath.Join("assets", "bot-icon.png")))
	if err != nil {
		return errors.Wrap(err, "MS Teams plugin could not create its bot user")
	}

	p.mu.Lock()
	p.cfg = cfg
	p.factory = factory
	p.keyring = secrets.NewKeyring(cipher)
	p.mu.Unlock()
	p.store = st
	p.botID = botID

	mm := &connect.PluginAdapter{API: p.API, BotUserID: botID}
	p.connect = connect.New(connect.Deps{
		Store:        st,
		Cipher:       keyringCipher{p},
		Settings:     p.connectSettings,
		OAuth:        p.oauthConfig,
		HTTPClient:   func() *http.Client { return p.graphFactory().HTTPClient() },
		Accounts:     connect.AccountsFromGraph(func() connect.GraphFactory { return p.graphFactory() }),
		Mattermost:   preferenceWatch{PluginAdapter: mm, changed: p.forgetRecipient},
		PluginURL:    p.pluginURL,
		AccountLinks: accountlink.Checker{Store: st},
		Logger:       p.log,
		Now:          time.Now,
	})

	p.commands = command.New(p.connect, mm, p.API)
	muting := p.setUpMute()
	for _, s := range channeldelivery.Subcommands(p.store) {
		p.commands.Register(s)
	}

	tookOver := p.takeOverOfficialPlugin(ctx, cfg, p.currentKeyring())

	if err := p.setUpReplies(); err != nil {
		return err
	}

	pl, err := p.newPipeline(cfg)
	if err != nil {
		return err
	}
	p.pipeline = pl

	if err := p.setUpOperations(); err != nil {
		return err
	}

	cmd := p.commands.Command()
	cmd.AutocompleteIconData = p.iconData()
	if err := p.API.RegisterCommand(cmd); err != nil {
		return errors.Wrap(err, "MS Teams plugin could not register the /msteams command")
	}

	mux := http.NewServeMux()
	pl.routes(mux)
	mux.Handle("/", api.New(api.Deps{
		Connections: p.connect,
		Store:       st,
		Links:       st,
		Muting:      muting,
		Mattermost:  mm,
		Settings:    p.connectSettings,
		Logger:      p.log,
		Now:         time.Now,
		Channels:    st,
		// As channel delivery reads it: nothing of a channel reaches anyone unless both are on.
		ChannelNotificationsOn: func() bool { cfg := p.settings(); return cfg.SyncNotifications && cfg.ChannelNotifications },
	}))
	p.router = mux

	pl.start(p.bgCtx)
	if tookOver {
		// Messages sent while neither plugin was running: each taken-over user from the official plugin's
		// last delivery to them (the exactly-once record drops what the official subscription still brings).
		pl.catchUp(p.bgCtx, time.Time{})
	}
	p.startMaintenance()
	p.startProfiling()

	activated = true
	p.API.LogInfo("MS Teams plugin activated.", "settings", cfg.String())
	return nil
}

// Shutdown is bounded well inside what Mattermost tolerates: at server shutdown it gives OnDeactivate 10 s
// ("Plugin OnDeactivate() failed to complete in 10 seconds"), then the plugin process 2 s to exit before it
// kills it ("plugin failed to exit gracefully"); when an admin disables the plugin, the request waits for
// OnDeactivate however long it takes. So stopping cuts work short instead of waiting for it: running jobs are
// cancelled and due again at their place in the inbox, and a job whose release could not be recorded in time
// stays claimed by this process, which the next start on this node takes back at once (other nodes: after the
// lease). Nothing accepted is lost.
const (
	shutdownBudget = 5 * time.Second
	// storeCloseGrace is the extra time the database pools get to close after the budget: a pool closes only
	// once every connection is back, and a step abandoned at the deadline may still hold one.
	storeCloseGrace = time.Second
)

// OnDeactivate stops the workers and closes the database pools within shutdownBudget (plus storeCloseGrace).
// Items still in the inbox stay there for the next start (on this or another node).
func (p *Plugin) OnDeactivate() error {
	began := time.Now()
	deadline := began.Add(shutdownBudget)
	if p.stopBg != nil {
		p.stopBg() // cancels running jobs, catch-up and maintenance at once
	}
	if p.pipeline != nil && !finishBy(deadline, p.pipeline.stop) {
		p.API.LogWarn("The notification workers did not stop in time; their jobs run again at the next start.", "budget", shutdownBudget.String())
	}
	if !finishBy(deadline, p.bg.Wait) {
		p.API.LogWarn("Background work did not stop in time; it runs again at the next start.", "budget", shutdownBudget.String())
	}
	if p.store != nil && !finishBy(deadline.Add(storeCloseGrace), p.store.Close) {
		p.API.LogWarn("The plugin's database connections did not close in time; the server closes them when the plugin exits.")
	}
	p.API.LogInfo("MS Teams plugin stopped.", "took", time.Since(began).Round(time.Millisecond).String())
	return nil
}

// finishBy runs fn and reports whether it returned by the deadline; if not, fn is left running (the process
// is about to end).
func finishBy(deadline time.Time, fn func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// OnConfigurationChange applies new settings without a restart. Mattermost calls it once before OnActivate
// too, when there is nothing to rebuild yet. Invalid settings are refused and the last good ones stay in force.
func (p *Plugin) OnConfigurationChange() error {
	if p.store == nil {
		return nil // not activated yet: OnActivate reads the settings itself
	}
	// Called for changes to the server's configuration too, such as its log levels.
	p.log.follow(p.API.GetConfig())
	next, err := p.loadConfiguration()
	if err != nil {
		return err
	}
	p.mu.RLock()
	prev := p.cfg
	p.mu.RUnlock()
	// A newly entered webhook secret must be strong; one already in use is only warned about (Warnings).
	if err := next.ValidateChange(prev); err != nil {
		p.API.LogError("MS Teams settings were not applied; the previous ones stay in force.", "reason", err.Error())
		return err
	}
	changes := config.Diff(prev, next)

	var newFactory *graph.Factory
	if changes.CredentialsChanged {
		newFactory, err = p.newGraphFactory(next)
		if err != nil {
			return errors.Wrap(err, "MS Teams plugin could not set up the Microsoft Graph client with the new settings")
		}
	}
	var oldCipher, newCipher *secrets.Cipher
	if changes.EncryptionKeyChanged {
		if oldCipher, err = secrets.NewCipher(prev.EncryptionKey); err != nil {
			return errors.Wrap(err, "read the previous encryption key")
		}
		if newCipher, err = secrets.NewCipher(next.EncryptionKey); err != nil {
			return errors.Wrap(err, "MS Teams plugin could not use the new At-rest encryption key")
		}
	}

	p.mu.Lock()
	p.cfg = next
	if newFactory != nil {
		p.factory = newFactory
	}
	if newCipher != nil {
		// Tokens sealed with the old key stay readable while the rotation below re-encrypts them.
		p.keyring = secrets.NewKeyring(newCipher, oldCipher)
	}
	p.mu.Unlock()

	if newCipher != nil {
		p.runBackground(func(ctx context.Context) {
			n, err := p.store.RotateTokenKey(ctx, oldCipher, newCipher)
			if err != nil {
				p.API.LogError("Could not re-encrypt stored tokens with the new encryption key; will finish at the next start.", "error", err.Error())
				return
			}
			p.API.LogInfo("Re-encrypted stored tokens with the new encryption key.", "tokens", n)
		})
	}
	if p.pipeline != nil {
		p.pipeline.configurationChanged(prev, next, changes)
	}
	if changes.Any() {
		p.API.LogInfo("MS Teams settings applied.", "settings", next.String())
	}
	return nil
}

// ServeHTTP serves the plugin's routes under /plugins/com.mattermost.msteams-sync.
func (p *Plugin) ServeHTTP(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	if p.router == nil {
		http.Error(w, "The MS Teams plugin is starting.", http.StatusServiceUnavailable)
		return
	}
	p.router.ServeHTTP(w, r)
}

// ServeMetrics serves the Prometheus metrics on the server's metrics listener
// (/plugins/com.mattermost.msteams-sync/metrics).
func (p *Plugin) ServeMetrics(_ *plugin.Context, w http.ResponseWriter, r *http.Request) {
	p.metrics.Handler().ServeHTTP(w, r)
}

// GenerateSupportData adds the plugin's diagnostics (no secrets, tokens or message bodies) to a support packet.
func (p *Plugin) GenerateSupportData(_ *plugin.Context) ([]*model.FileData, error) {
	if p.diag == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fd, err := p.diag.SupportPacket(ctx)
	if err != nil {
		return nil, errors.Wrap(err, "build the MS Teams diagnostics for the support packet")
	}
	return []*model.FileData{fd}, nil
}

// ExecuteCommand answers /msteams.
func (p *Plugin) ExecuteCommand(_ *plugin.Context, args *model.CommandArgs) (*model.CommandResponse, *model.AppError) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.commands.Execute(ctx, args), nil
}

// newGraphFactory builds the Graph clients for cfg. Their HTTP calls are timed by the metrics; the SDK absorbs
// short throttling but hands long Retry-After waits back to the caller, so an inbox worker is rescheduled
// instead of sleeping through them.
func (p *Plugin) newGraphFactory(cfg config.Configuration) (*graph.Factory, error) {
	base, err := graph.NewTransport(cfg.CustomCACertificate)
	if err != nil {
		return nil, errors.Wrap(err, "MS Teams plugin could not use the custom CA certificate")
	}
	return graph.NewFactory(cfg, graph.Options{MaxRetryWait: 5 * time.Second, Transport: p.metrics.GraphTransport(base)})
}

// loadConfiguration reads the settings and fills the generated secrets the System Console leaves empty on a
// fresh install, saving them back so every node uses the same values.
func (p *Plugin) loadConfiguration() (config.Configuration, error) {
	// GetPluginConfig hands plugins the sanitized settings (secrets read as asterisks); LoadPluginConfiguration
	// has the real values.
	cfg := config.Defaults()
	if err := p.API.LoadPluginConfiguration(&cfg); err != nil {
		return cfg, errors.Wrap(err, "MS Teams plugin could not read its settings")
	}
	filled, changed, err := config.GenerateSecrets(cfg)
	if err != nil {
		return cfg, errors.Wrap(err, "generate the plugin's secrets")
	}
	if changed {
		if appErr := p.API.SavePluginConfig(filled.ToMap()); appErr != nil {
			return cfg, errors.Wrap(appErr, "MS Teams plugin could not save its generated encryption key and webhook secret")
		}
	}
	return filled, nil
}

func (p *Plugin) settings() config.Configuration {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cfg
}

func (p *Plugin) connectSettings() connect.Settings { return connect.SettingsFrom(p.settings()) }

func (p *Plugin) graphFactory() *graph.Factory {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.factory
}

func (p *Plugin) currentKeyring() *secrets.Keyring {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.keyring
}

func (p *Plugin) oauthConfig() *oauth2.Config {
	return p.graphFactory().OAuth2Config(p.pluginURL() + "/oauth-redirect")
}

// pluginURL is the public base URL of the plugin's routes, from the Site URL.
func (p *Plugin) pluginURL() string {
	site := ""
	if c := p.API.GetConfig(); c != nil && c.ServiceSettings.SiteURL != nil {
		site = *c.ServiceSettings.SiteURL
	}
	return strings.TrimRight(site, "/") + "/plugins/" + manifestID
}

// iconData is the plugin icon as a data URL for the slash command's autocomplete; none if unreadable.
func (p *Plugin) iconData() string {
	dir, err := p.API.GetBundlePath()
	if err != nil {
		return ""
	}
	svg, err := os.ReadFile(filepath.Join(dir, "assets", "icon.svg"))
	if err != nil {
		return ""
	}
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg)
}

// runBackground runs fn until the plugin deactivates.
func (p *Plugin) runBackground(fn func(ctx context.Context)) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		fn(p.bgCtx)
	}()
}

// keyringCipher follows key changes: connect seals with whatever keyring is current at the time of the call.
type keyringCipher struct{ p *Plugin }

func (k keyringCipher) Seal(plaintext []byte) ([]byte, string, error) {
	return k.p.currentKeyring().Seal(plaintext)
}

func (k keyringCipher) Open(ciphertext []byte, keyID string) ([]byte, error) {
	return k.p.currentKeyring().Open(ciphertext, keyID)
}

func (k keyringCipher) SealFor(purpose secrets.Purpose, binding string, plaintext []byte) ([]byte, string, error) {
	return k.p.currentKeyring().SealFor(purpose, binding, plaintext)
}

func (k keyringCipher) OpenFor(purpose secrets.Purpose, binding string, ciphertext []byte, keyID string) ([]byte, bool, error) {
	return k.p.currentKeyring().OpenFor(purpose, binding, ciphertext, keyID)
}

// checkDatabase refuses anything but PostgreSQL: the plugin's tables, locks and queue rely on it.
func checkDatabase(c *model.Config) error {
	driver := ""
	if c != nil && c.SqlSettings.DriverName != nil {
		driver = *c.SqlSettings.DriverName
	}
	if driver != model.DatabaseDriverPostgres {
		return errors.Errorf("MS Teams plugin needs PostgreSQL as the Mattermost database, but this server uses %q. Move Mattermost to PostgreSQL (see Mattermost's migration guide) before enabling the plugin.", driver)
	}
	if c.SqlSettings.DataSource == nil || *c.SqlSettings.DataSource == "" {
		return errors.New("MS Teams plugin could not read the database connection settings (SqlSettings.DataSource) from the server configuration")
	}
	return nil
}

const manifestID = "com.mattermost.msteams-sync"
