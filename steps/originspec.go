package steps

import (
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// OriginSpec is the origin config the rollout's origin steps apply for
// phase, for exporters that hand it to other engines.
func (r *Rollout) OriginSpec(phase render.Phase) render.Spec { return r.spec(phase) }

// OriginOverrides are the rollout's server layout overrides (config,
// commands, systemd), as origin/server takes them.
func (r *Rollout) OriginOverrides() server.Overrides { return r.Inputs.Origin.Overrides() }

// Overrides are the server layout overrides among the origin inputs.
func (o OriginInputs) Overrides() server.Overrides {
	return server.Overrides{Config: o.Config, Binary: o.Binary, TestCmd: o.TestCmd, ReloadCmd: o.ReloadCmd,
		PIDFile: o.PIDFile, ErrorLog: o.ErrorLog, Systemd: o.Systemd}
}
