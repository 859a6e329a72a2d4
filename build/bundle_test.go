package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// bundlePath finds the bundle `make dist` built: PLUGIN_BUNDLE when set (make test sets it), else the one
// named after plugin.json's id and version.
func bundlePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PLUGIN_BUNDLE"); p != "" {
		return p
	}
	f, err := os.Open("../plugin.json")
	if err != nil {
		t.Fatalf("read plugin.json: %v", err)
	}
	defer f.Close()
	m := parseManifest(t, f)
	return filepath.Join("..", "dist", m.Id+"-"+m.Version+".tar.gz")
}

// parseManifest decodes plugin.json the way the server does, but refuses unknown keys so that a misspelt
// setting field fails here instead of being silently ignored by the System Console.
func parseManifest(t *testing.T, r io.Reader) *model.Manifest {
	t.Helper()
	var m model.Manifest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("plugin.json does not parse as a manifest: %v", err)
	}
	return &m
}

func readBundle(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open bundle %s (run `make dist` first): %v", path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("bundle is not gzip: %v", err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", h.Name, err)
		}
		files[h.Name] = b
	}
	return files
}

// TestBundleLayout checks what a Mattermost server needs to accept the upload: one top folder named after the
// plugin id holding a valid manifest, both server executables for the right architectures, the webapp and assets.
func TestBundleLayout(t *testing.T) {
	files := readBundle(t, bundlePath(t))

	raw, ok := files["com.mattermost.msteams-sync/plugin.json"]
	if !ok {
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("bundle has no com.mattermost.msteams-sync/plugin.json; it has %v", names)
	}
	m := parseManifest(t, bytes.NewReader(raw))
	if err := m.IsValid(); err != nil {
		t.Fatalf("manifest is not valid: %v", err)
	}
	if m.Id != "com.mattermost.msteams-sync" {
		t.Errorf("manifest id = %q; Azure registrations depend on com.mattermost.msteams-sync", m.Id)
	}
	for n := range files {
		if !strings.HasPrefix(n, m.Id+"/") {
			t.Errorf("%s is outside the top folder %s/", n, m.Id)
		}
	}

	wantArch := map[string]elf.Machine{"linux-amd64": elf.EM_X86_64, "linux-arm64": elf.EM_AARCH64}
	for runtime, machine := range wantArch {
		exe := m.Server.Executables[runtime]
		if exe == "" {
			t.Errorf("manifest names no %s executable", runtime)
			continue
		}
		b, ok := files[m.Id+"/"+exe]
		if !ok {
			t.Errorf("manifest names %s but the bundle lacks it", exe)
			continue
		}
		bin, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s is not an ELF executable: %v", exe, err)
			continue
		}
		if bin.Machine != machine {
			t.Errorf("%s is built for %v, want %v", exe, bin.Machine, machine)
		}
	}

	if !m.HasWebapp() || len(files[m.Id+"/"+m.Webapp.BundlePath]) == 0 {
		t.Errorf("webapp bundle %q missing or empty", m.Webapp.BundlePath)
	}
	if len(files[m.Id+"/"+m.IconPath]) == 0 {
		t.Errorf("icon %q missing", m.IconPath)
	}
	if len(files[m.Id+"/assets/bot-icon.png"]) == 0 {
		t.Errorf("bot profile image assets/bot-icon.png missing")
	}
	if m.MinServerVersion == "" {
		t.Errorf("manifest has no min_server_version")
	}
	if m.SettingsSchema == nil || len(m.SettingsSchema.Settings) == 0 {
		t.Fatalf("manifest has no System Console settings")
	}
	secret := map[string]bool{}
	for _, s := range m.SettingsSchema.Settings {
		if s.HelpText == "" && s.Type != "custom" {
			t.Errorf("setting %s has no help text", s.Key)
		}
		secret[s.Key] = s.Secret
	}
	for _, k := range []string{"ClientSecret", "EncryptionKey", "WebhookSecret"} {
		if !secret[k] {
			t.Errorf("setting %s must be marked secret so the System Console masks it", k)
		}
	}
}
