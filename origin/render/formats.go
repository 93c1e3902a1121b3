package render

import "slices"

// LogFormat is the aop1 evidence log format of a server, as its renderer
// writes it (docs/origin-servers.md, "Evidence log format aop1"): the
// nginx log_format strings, Apache's LogFormat string, HAProxy's
// log-format string. origin/inplace adds it to the operator's own config.
func LogFormat(s Server) string {
	switch s {
	case Nginx:
		return nginxLogFormat
	case Apache:
		return apacheLogFormat
	case HAProxy:
		return haproxyLogFormat
	}
	return ""
}

// HAProxyLogVars are the http-request lines the HAProxy log format needs
// in the same frontend.
func HAProxyLogVars() []string { return slices.Clone(haproxyLogVars) }

// HAProxyErrorLogFormat is the error-log-format that records handshakes
// HAProxy refused, which never reach the request log.
func HAProxyErrorLogFormat() string { return haproxyErrorLogFormat }
