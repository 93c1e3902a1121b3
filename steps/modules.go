package steps

// Module returns the module of a step, nil for a name this build does not
// know (a newer rollout file).
func Module(n StepName) Step {
	switch n {
	case StepConnect:
		return connectStep{}
	case StepPlan:
		return planStep{}
	case StepCertificate:
		return certificateStep{}
	case StepUpload:
		return uploadStep{}
	case StepOriginSoft:
		return originSoftStep{}
	case StepEnable:
		return enableStep{}
	case StepVerify:
		return verifyStep{}
	case StepEnforce:
		return enforceStep{}
	case StepAlerts:
		return alertsStep{}
	case StepDone:
		return doneStep{}
	}
	return nil
}
