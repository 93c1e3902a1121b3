package main

import (
	"context"
	"os"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/steps/doctor"
	"github.com/aopwizard/aopwizard/ui"
)

// uiDoctor is the wizard's doctor screen's way to Cloudflare: the token
// the wizard holds, and the API base and HTTP settings of the environment.
type uiDoctor struct{}

var _ ui.Doctor = uiDoctor{}

func (uiDoctor) Diagnose(ctx context.Context, token, zone string, origins []string) (*doctor.Report, error) {
	cfg := cfapi.ConfigFromEnv(os.Getenv)
	if token != "" {
		cfg.Token = token
	}
	client, err := cfapi.New(cfg)
	if err != nil {
		return nil, err
	}
	return doctor.Diagnose(ctx, doctor.Deps{Cloudflare: client}, doctor.Input{Zone: zone, Origins: origins})
}

// Command is the same command line `aopwizard doctor` prints.
func (uiDoctor) Command(a doctor.Action, rep *doctor.Report, origins []string) string {
	return doctorCommand(a, rep, doctorFlags{origins: origins})
}
