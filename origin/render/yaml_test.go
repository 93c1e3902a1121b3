package render

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestYAMLRendersParse checks the Traefik, Envoy and ingress-nginx renders
// are well-formed YAML with the structure those servers read; no validator
// for them is installed here.
func TestYAMLRendersParse(t *testing.T) {
	for _, server := range []Server{Traefik, Envoy, IngressNginx} {
		for _, mode := range []Mode{Global, Zone, Hostname} {
			for _, phase := range []Phase{Soft, Enforce} {
				out, err := Render(goldenSpec(t, server, phase, mode, false))
				if err != nil {
					t.Fatal(err)
				}
				dec := yaml.NewDecoder(bytes.NewReader(out.Files[0].Content))
				var docs []map[string]any
				for {
					var doc map[string]any
					if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
						break
					} else if err != nil {
						t.Fatalf("%s %s %s: invalid YAML: %v\n%s", server, mode, phase, err, out.Files[0].Content)
					}
					docs = append(docs, doc)
				}
				checkYAML(t, server, mode, docs)
			}
		}
	}
}

func checkYAML(t *testing.T, server Server, mode Mode, docs []map[string]any) {
	t.Helper()
	switch server {
	case Traefik:
		opts := docs[0]["tls"].(map[string]any)["options"].(map[string]any)
		if want := map[Mode]int{Global: 1, Zone: 1, Hostname: 2}[mode]; len(opts) != want {
			t.Errorf("traefik %s: %d TLS options, want %d", mode, len(opts), want)
		}
	case Envoy:
		l := docs[0]["static_resources"].(map[string]any)["listeners"].([]any)[0].(map[string]any)
		chains := l["filter_chains"].([]any)
		if want := map[Mode]int{Global: 1, Zone: 1, Hostname: 2}[mode]; len(chains) != want {
			t.Errorf("envoy %s: %d filter chains, want %d", mode, len(chains), want)
		}
		hcm := chains[0].(map[string]any)["filters"].([]any)[0].(map[string]any)["typed_config"].(map[string]any)
		format := hcm["access_log"].([]any)[0].(map[string]any)["typed_config"].(map[string]any)["log_format"].(map[string]any)["text_format_source"].(map[string]any)["inline_string"].(string)
		if !strings.HasPrefix(format, "aop1 ") || !strings.HasSuffix(format, "\"\n") {
			t.Errorf("envoy log format %q must be one aop1 line ending in a newline", format)
		}
	case IngressNginx:
		kinds := map[string]int{}
		for _, d := range docs {
			kinds[d["kind"].(string)]++
		}
		if want := map[Mode]int{Global: 1, Zone: 1, Hostname: 2}[mode]; kinds["Secret"] != want || kinds["Ingress"] != want {
			t.Errorf("ingress-nginx %s: %v, want %d Secret and Ingress each", mode, kinds, want)
		}
	}
}
