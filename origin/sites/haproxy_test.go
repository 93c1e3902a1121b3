package sites

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

func TestHAProxyDiscovery(t *testing.T) {
	lab := pkitest.New(t)
	dir := t.TempDir()
	cfg := `global
    crt-base ` + lab.Dir + `

frontend fe_tls
    bind :443 ssl crt ` + pkitest.ServerBundle + ` verify optional ca-file /etc/haproxy/ca.pem
    default_backend app

frontend fe_list
    bind :8443 ssl crt-list ` + dir + `/list

frontend fe_plain
    bind :80
    default_backend app

backend app
    server app 127.0.0.1:8080
`
	list := lab.Path(pkitest.ServerBundle) + " [verify none] shop.example.test !a.example.test\n# comment\n"
	for name, content := range map[string]string{"haproxy.cfg": cfg, "list": list} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadHAProxy(filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	hosts := c.Config().Lookup([]string{"a.example.test", "shop.example.test"})
	a := hosts[0]
	if !a.OK() || len(a.Blocks) != 1 || a.Blocks[0].Section != "frontend fe_tls" || a.Blocks[0].Line != 4 || a.Blocks[0].Certificate != lab.Path(pkitest.ServerBundle) {
		t.Errorf("a.example.test through the certificate's names and crt-base: %+v", a)
	}
	if got := a.Blocks[0].ClientAuth; len(got) != 2 || got[0].Text != "verify optional" || got[0].Line != 5 {
		t.Errorf("existing verification on the bind line: %+v", got)
	}
	if s := hosts[1]; !s.OK() || s.Blocks[0].Section != "frontend fe_list" {
		t.Errorf("shop.example.test through the crt-list's SNI filter: %+v", s)
	}
}

func TestDialAddrs(t *testing.T) {
	b := Block{Listen: []string{"443 ssl http2", "[::]:443 ssl", "*:443", "_default_:8443", ":::9443 v4v6", "ipv4@:10443", "unix:/run/x.sock ssl", "443 ssl"}}
	want := "127.0.0.1:443 [::1]:443 127.0.0.1:8443 [::1]:9443 127.0.0.1:10443"
	if got := strings.Join(b.DialAddrs(), " "); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
