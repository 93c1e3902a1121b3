package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// configTokens splits a directive line the way nginx, Apache, HAProxy and
// the Caddyfile read arguments: "…" with backslash escapes, '…' literal,
// bare words ending at blanks or ;.
func configTokens(line string) []string {
	var toks []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ' || c == '\t' || c == ';':
			i++
		case c == '"':
			var b strings.Builder
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				b.WriteByte(line[i])
			}
			toks = append(toks, b.String())
			i++
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return append(toks, line[i:])
			}
			toks = append(toks, line[i+1:i+1+end])
			i += end + 2
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t;", rune(line[j])) {
				j++
			}
			toks = append(toks, line[i:j])
			i = j
		}
	}
	return toks
}

// yamlStrings returns every string scalar of every YAML document in data.
func yamlStrings(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("render is not YAML: %v\n%s", err, data)
		}
		walk(doc)
	}
}

// TestHostileValuesAreQuotedOrRefused is issue 7's defect 4: a path with
// a space wrote a config nginx rejects, and `--access-log '/tmp/a b";x'`
// went verbatim into nginx and Apache configs. Every renderer must either
// refuse the value (naming the input) or write it so its own syntax reads
// back exactly the value given.
func TestHostileValuesAreQuotedOrRefused(t *testing.T) {
	chars := []string{" ", `"`, "'", ";", "#", "$", `\`, "{", "*", "\n", "\r", "\t"}
	// directive marks the lines that carry the path for the config syntaxes.
	directives := map[Server][]string{
		Nginx:   {"ssl_client_certificate", "access_log"},
		Apache:  {"SSLCACertificateFile", "CustomLog"},
		HAProxy: {"bind"},
		Caddy:   {"trust_pool", "output file"},
	}
	// Values a syntax cannot hold; everything else must be quoted.
	refused := map[Server]string{Nginx: "$", Apache: "", HAProxy: "", Caddy: `\{`}
	for _, server := range Servers {
		for _, c := range chars {
			v := "/tmp/a b" + c + "x/ca.pem"
			s := goldenSpec(t, server, Enforce, Zone, false)
			s.CAFile, s.AccessLog = v, v
			if server == IngressNginx {
				// It embeds the CA; its own values are names.
				s.Namespace, s.TLSSecret, s.IngressBackend = "ns"+c, "tls"+c, "svc"+c+":80"
			}
			out, err := Render(s)
			control := strings.ContainsAny(c, "\n\r\t")
			if err != nil {
				fes := FieldErrors(err)
				if len(fes) == 0 {
					t.Errorf("%s %q: error is no FieldError: %v", server, c, err)
				}
				for _, fe := range fes {
					if !slices.Contains([]Field{FieldCAFile, FieldAccessLog, FieldNamespace, FieldTLSSecret, FieldIngressBackend}, fe.Field) {
						t.Errorf("%s %q: refused for %s: %v", server, c, fe.Field, fe)
					}
				}
				if !control && server != IngressNginx && !strings.Contains(refused[server], c) {
					t.Errorf("%s %q: refused a value its syntax can quote: %v", server, c, err)
				}
				continue
			}
			if control || server == IngressNginx || strings.Contains(refused[server], c) {
				t.Errorf("%s %q: rendered a value it must refuse:\n%s", server, c, dump(out))
				continue
			}
			content := string(out.Files[0].Content)
			var found int
			switch server {
			case Traefik, Envoy:
				found = strings.Count(strings.Join(yamlStrings(t, out.Files[0].Content), "\x00")+"\x00", v+"\x00")
			case Builtin:
				var cfg map[string]any
				if err := json.Unmarshal(out.Files[0].Content, &cfg); err != nil {
					t.Fatal(err)
				}
				if cfg["ca_file"] == v && cfg["access_log"] == v {
					found = 2
				}
			default:
				for _, line := range strings.Split(content, "\n") {
					line = strings.TrimSpace(line)
					if !slices.ContainsFunc(directives[server], func(d string) bool { return strings.HasPrefix(line, d) }) {
						continue
					}
					for _, tok := range configTokens(line) {
						if tok == v {
							found++
						}
					}
				}
			}
			want := 2 // the CA bundle and the access log
			if server == HAProxy || server == Traefik {
				want = 1 // their fragments do not name the access log
			}
			if found < want {
				t.Errorf("%s %q: %q read back %d times from the rendered config:\n%s", server, c, v, found, content)
			}
		}
	}
}

// HAProxy's crt-list has no quoting: hostname mode refuses such paths.
func TestHAProxyCrtListRefusesUnquotablePaths(t *testing.T) {
	s := goldenSpec(t, HAProxy, Enforce, Hostname, false)
	s.Hosts[0].CAFile = "/etc/aop/ca b.pem"
	_, err := Render(s)
	fes := FieldErrors(err)
	if len(fes) != 1 || fes[0].Field != FieldHostCA || !strings.Contains(fes[0].Error(), "crt-list") {
		t.Fatalf("got %v, want one hostname CA bundle error naming the crt-list", err)
	}
}

// The real servers accept the quoted paths: a runtime directory with a
// space and a CA bundle whose name holds a space, a quote, ; and #.
func TestQuotedPathsPassServerConfigTest(t *testing.T) {
	lab := pkitest.New(t)
	for _, server := range []Server{Nginx, Apache, HAProxy} {
		t.Run(string(server), func(t *testing.T) {
			needBinary(t, configTests[server].bin)
			spec := labSpec(t, lab, server, Soft, Zone)
			spec.RuntimeDir = filepath.Join(spec.RuntimeDir, "x y")
			ca := filepath.Join(spec.RuntimeDir, `ca "q";#.pem`)
			if server == HAProxy {
				ca = filepath.Join(spec.RuntimeDir, `ca 'q';#.pem`) // a ' picks HAProxy's double quotes
			}
			data, err := os.ReadFile(spec.CAFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(spec.RuntimeDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ca, data, 0o644); err != nil {
				t.Fatal(err)
			}
			spec.CAFile = ca
			out, err := Standalone(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := out.Write(); err != nil {
				t.Fatal(err)
			}
			got, err := configTest(t, server, out, spec.RuntimeDir)
			if err != nil {
				t.Fatalf("config test failed: %v\n%s\nconfig:\n%s", err, got, dump(out))
			}
		})
	}
}
