package render

import (
	"encoding/json"

	"github.com/aopwizard/aopwizard/origin/builtin"
)

// builtin renders the JSON config of origin/builtin. JSON has no comments,
// so this file carries no markers: aopwizard owns the whole file.
func (r *resolved) builtin(path string) *Output {
	c := builtin.Config{
		ID: r.ID, Listen: r.listenAddr(), Phase: string(r.Phase), Mode: string(r.Mode),
		CertFile: r.ServerCertFile, KeyFile: r.ServerKeyFile, CAFile: r.CAFile,
		AccessLog: r.AccessLog,
	}
	if r.listenHost == "" {
		c.Listen = ":" + r.listenPort
	}
	if r.upstream != nil {
		c.Upstream = r.upstream.String()
	}
	for _, h := range r.Hosts {
		c.Hosts = append(c.Hosts, builtin.Host{Name: h.Name, CAFile: h.CAFile})
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	notes := []string{"builtin: serves demos and tests on machines without a web server (aopwizard's own Go origin); it is not a production origin"}
	return &Output{Files: []File{{Path: path, Content: append(data, '\n'), Mode: 0o644}}, Notes: notes}
}
