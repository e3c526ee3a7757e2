// Command debianproxy serves Debian's packaged Go libraries
// (/usr/share/gocode/src, from golang-google-grpc-dev and friends) as a Go
// module proxy on 127.0.0.1, so that `go build` in module mode works on a
// machine that cannot reach proxy.golang.org. The Go tests of minikafka
// (cmd/tests/go_client.rs) point GOPROXY at it.
//
// Debian ships one version of each library, so every version asked for is
// answered with that one source tree; the build is against exactly what
// Debian installed. A module Debian does not ship (grpc's go.mod names
// several that no package we build imports) gets a go.mod with no
// requirements and no source: the module graph can be resolved, and a
// build that really needs its code fails with a 404 naming it.
//
// It prints "listening on http://ADDRESS" on its first line, then serves
// until killed.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	root := "/usr/share/gocode/src"
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("debianproxy: cannot listen on 127.0.0.1: %v", err)
	}
	fmt.Printf("listening on http://%s\n", listener.Addr())
	log.Fatal(http.Serve(listener, proxy{root: root}))
}

// proxy answers the GOPROXY protocol's requests from a GOPATH-style tree.
type proxy struct {
	root string
}

func (p proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	escaped, file, found := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/@v/")
	if !found {
		// @latest and other queries: every version the build needs is in
		// its go.mod, so there is nothing to look up.
		http.NotFound(w, r)
		return
	}
	module := unescape(escaped)
	dir := filepath.Join(p.root, filepath.FromSlash(module))
	switch {
	case file == "list":
		// No versions to list: the build asks only for named versions.
	case strings.HasSuffix(file, ".info"):
		version := strings.TrimSuffix(file, ".info")
		_ = json.NewEncoder(w).Encode(map[string]string{"Version": version})
	case strings.HasSuffix(file, ".mod"):
		goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			goMod = []byte("module " + module + "\n")
		}
		_, _ = w.Write(goMod)
	case strings.HasSuffix(file, ".zip"):
		version := strings.TrimSuffix(file, ".zip")
		archive, err := zipModule(dir, module+"@"+version)
		if err != nil {
			log.Printf("debianproxy: %s@%s: %v", module, version, err)
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(archive)
	default:
		http.NotFound(w, r)
	}
}

// unescape undoes the module proxy's case encoding ("!x" stands for "X").
func unescape(escaped string) string {
	var out strings.Builder
	bang := false
	for _, c := range escaped {
		switch {
		case c == '!':
			bang = true
		case bang:
			out.WriteString(strings.ToUpper(string(c)))
			bang = false
		default:
			out.WriteRune(c)
		}
	}
	return out.String()
}

// zipModule packs the module in dir as a module zip whose files sit under
// prefix ("path@version"), leaving out nested modules (directories with a
// go.mod of their own), as the go command expects.
func zipModule(dir, prefix string) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil, fmt.Errorf("not a module packaged by Debian: %w", err)
	}
	var buffer bytes.Buffer
	archive := zip.NewWriter(&buffer)
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() {
			if path != dir {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		// Debian links some files to other packages' copies: read through.
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		relative, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		writer, err := archive.Create(prefix + "/" + filepath.ToSlash(relative))
		if err != nil {
			return err
		}
		_, err = writer.Write(content)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := archive.Close(); err != nil {
		return nil, err
	}
	return buffer.Bytes(), nil
}
