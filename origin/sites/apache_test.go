package sites

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A DUMP_VHOSTS listing as Apache 2.4 prints it, for the fixture file.
const dumpVhosts = `VirtualHost configuration:
*:443                  is a NameVirtualHost
         default server one.example.test (FILE:7)
         port 443 namevhost one.example.test (FILE:7)
                 alias www.one.example.test
192.0.2.1:443          two.example.test (FILE:16)
[2001:db8::1]:443      two.example.test (FILE:16)
*:80                   plain.example.test (FILE:2)
`

func TestApacheDiscoveryFixture(t *testing.T) {
	file, _ := filepath.Abs("testdata/apache/panel.conf")
	c, err := ParseApacheDump([]byte(strings.ReplaceAll(dumpVhosts, "FILE", file)), "/etc/apache2", os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	hosts := c.Config().Lookup([]string{"www.one.example.test", "two.example.test", "x.two.example.test", "plain.example.test", "none.example.test"})
	one := hosts[0]
	if !one.OK() || !one.Blocks[0].DefaultServer || one.Blocks[0].Line != 7 || one.Blocks[0].EndLine != 14 || strings.Join(one.Blocks[0].Others, ",") != "one.example.test" {
		t.Errorf("alias: %+v", one)
	}
	if got := one.Blocks[0].ClientAuth; len(got) != 2 || got[0].Text != "SSLVerifyClient optional" || got[0].Line != 12 {
		t.Errorf("existing verification: %+v", got)
	}
	two := hosts[1]
	if !two.OK() || strings.Join(two.Blocks[0].Listen, " ") != "192.0.2.1:443 [2001:db8::1]:443" || two.Blocks[0].Certificate != "/etc/ssl/two cert.pem" {
		t.Errorf("two: %+v", two)
	}
	// Without SSLCertificateKeyFile, Apache reads the key from the
	// certificate's file.
	if two.Blocks[0].Key != "/etc/ssl/two cert.pem" {
		t.Errorf("two's key file: %q", two.Blocks[0].Key)
	}
	if got := two.Blocks[0].ClientAuth; len(got) != 0 {
		t.Errorf("a <Location>'s SSLVerifyClient is not the vhost's: %+v", got)
	}
	if w := hosts[2]; !w.Flagged || w.Blocks[0].Match != Wildcard {
		t.Errorf("alias glob: %+v", w)
	}
	if p := hosts[3]; p.Reason != PlainOnly {
		t.Errorf("plain: %+v", p)
	}
	if n := hosts[4]; n.Reason != DefaultOnly {
		t.Errorf("none: %+v", n)
	}
}

// SSLCertificateKeyFile names the key; without it Apache reads the key
// from the certificate's file.
func TestApacheCertificateKeyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "site.conf")
	conf := "<VirtualHost *:443>\n    ServerName k.example.test\n    SSLEngine on\n" +
		"    SSLCertificateFile /etc/ssl/k.pem\n    SSLCertificateKeyFile /etc/ssl/private/k.key\n</VirtualHost>\n"
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	dump := "VirtualHost configuration:\n*:443                  k.example.test (" + file + ":1)\n"
	c, err := ParseApacheDump([]byte(dump), "/etc/apache2", os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Config().Lookup([]string{"k.example.test"})[0]
	if !h.OK() || h.Blocks[0].Certificate != "/etc/ssl/k.pem" || h.Blocks[0].Key != "/etc/ssl/private/k.key" {
		t.Fatalf("k: %+v", h)
	}
}
