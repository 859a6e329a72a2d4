package harness

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"
)

// BuildPluginBundle compiles the Go plugin package pkg (an import path or a ./path inside the e2e module) for
// this machine and packs it with manifest into a bundle the server accepts. It is for small probe plugins that
// pin down server behaviour the real plugin relies on.
func BuildPluginBundle(t T, pkg string, manifest *model.Manifest) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, manifest.Id)
	exe := filepath.Join("server", "dist", "plugin-"+runtime.GOOS+"-"+runtime.GOARCH)
	cmd := exec.Command("go", "build", "-o", filepath.Join(root, exe), pkg)
	cmd.Dir = moduleDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin %s: %v\n%s", pkg, err, out)
	}
	m := *manifest
	m.Server = &model.ManifestServer{Executables: map[string]string{runtime.GOOS + "-" + runtime.GOARCH: exe}}
	data, err := json.Marshal(&m)
	if err != nil {
		t.Fatalf("encode manifest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "plugin.json"), data, 0o644); err != nil {
		t.Fatalf("write manifest: %v", err)
	}
	bundle := filepath.Join(dir, manifest.Id+".tar.gz")
	if err := tarGz(dir, manifest.Id, bundle); err != nil {
		t.Fatalf("pack plugin bundle: %v", err)
	}
	return bundle
}

// tarGz packs base/top into the gzipped tar archive out, with top as the archive's top folder.
func tarGz(base, top, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return errors.Wrap(err, "create bundle")
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.Walk(filepath.Join(base, top), func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return errors.Wrap(err, "add files")
	}
	if err := tw.Close(); err != nil {
		return errors.Wrap(err, "finish tar")
	}
	if err := zw.Close(); err != nil {
		return errors.Wrap(err, "finish gzip")
	}
	return errors.Wrap(f.Close(), "close bundle")
}
