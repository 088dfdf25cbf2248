// Command orgserve serves one bare repository as the only repository of
// the organisation "acme", for scripts/bench-org.sh: a fake GitHub API
// (internal/ghapi/ghfake) lists it, and git http-backend serves it over
// smart HTTP on loopback. It prints the API URL and the clone URL, one a
// line, and serves until its standard input closes.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/atomyx/atomyx-guard/internal/ghapi/ghfake"
)

func main() {
	root := flag.String("root", "", "`DIR` holding acme/NAME.git")
	name := flag.String("name", "bench", "repository `NAME` under acme/")
	flag.Parse()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		log.Fatal(err)
	}
	home, err := os.MkdirTemp("", "orgserve")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(home)
	backend := &cgi.Handler{
		Path: gitPath, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + *root, "GIT_HTTP_EXPORT_ALL=1", "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1"},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, backend) //nolint:errcheck // serves until the process ends
	full := "acme/" + *name
	if _, err := os.Stat(filepath.Join(*root, full+".git")); err != nil {
		log.Fatal(err)
	}
	gh := ghfake.New()
	defer gh.Close()
	gh.AddRepo("acme", *name, false)
	clone := fmt.Sprintf("http://%s/%s.git", ln.Addr(), full)
	gh.UpdateRepo(full, func(r *ghfake.Repo) { r.CloneURL = clone })
	fmt.Println(gh.URL())
	fmt.Println(clone)
	io.Copy(io.Discard, os.Stdin) //nolint:errcheck // EOF or an error: stop either way
}
