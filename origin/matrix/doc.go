// Package matrix holds no code, only tests: the behaviour matrix that
// proves the origin story end to end. For nginx, Apache, HAProxy and
// aopwizard's builtin Go origin it renders a standalone config with
// origin/render, starts the server on 127.0.0.1 (the real binaries through
// origin/servertest), probes it with origin/probe in every case (no
// certificate, the right one, a wrong-CA one, an expired one) on TLS 1.3
// and 1.2, and reads the soft-phase evidence with origin/evidence. The
// expected outcomes are the ones measured in docs/origin-servers.md, "Soft
// and enforce phases", "Per-hostname CAs and the 421 check" and "What
// clients see".
// BenchmarkProbeVsCurl times the probe beside curl on the same origins.
package matrix
