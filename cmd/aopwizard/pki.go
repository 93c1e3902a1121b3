package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/pki"
)

// envCAPassphrase holds the CA key passphrase for scripts; it is never taken
// as a flag, so it does not show up in shell history or ps.
const envCAPassphrase = "AOPWIZARD_CA_PASSPHRASE"

func newPKICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Generate, check and inspect the certificates for Authenticated Origin Pulls",
		Long: "Authenticated Origin Pulls with your own certificate needs a private CA (installed on the\n" +
			"origin) and a client certificate issued by it (uploaded to Cloudflare). These commands make\n" +
			"them as the Cloudflare docs' openssl recipe does, check material you already have, and show\n" +
			"what a certificate or key file holds.",
	}
	cmd.AddCommand(newPKIGenerateCmd(), newPKICheckCmd(), newPKIInspectCmd())
	return cmd
}

type generateFlags struct {
	dir, domain, keyType, passFile string
	hostnames                      []string
	caDays, certDays               int
	noPass, force                  bool
}

func newPKIGenerateCmd() *cobra.Command {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Make a private CA and a client certificate (rootca.key, rootca.crt, cert.key, cert.crt)",
		Long: "Make a private CA (common name = the zone's domain) and a client certificate issued by it,\n" +
			"and write them as the Cloudflare docs name them: rootca.key (encrypted with your passphrase),\n" +
			"rootca.crt, cert.key (unencrypted, as Cloudflare needs it) and cert.crt.\n\n" +
			"The passphrase for rootca.key comes from --passphrase-file or the environment variable\n" +
			envCAPassphrase + ", never from the command line.",
		Example: "  aopwizard pki generate --dir ./aop --domain example.com --passphrase-file ./ca.pass\n" +
			"  aopwizard pki generate --dir ./aop --domain example.com --hostname app.example.com --key-type ecdsa-p256 --no-passphrase",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGenerate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory to write the four files to (created 0700)")
	fl.StringVar(&f.domain, "domain", "", "the zone's domain, e.g. example.com: the CA's common name")
	fl.StringSliceVar(&f.hostnames, "hostname", nil, "hostname for per-hostname AOP (repeatable): the first is the client certificate's common name, all are its DNS names; default: the domain")
	fl.StringVar(&f.keyType, "key-type", string(pki.DefaultKeyType), "key type for both keys: "+keyTypeNames())
	fl.IntVar(&f.caDays, "ca-days", pki.DefaultCADays, "days the CA is valid")
	fl.IntVar(&f.certDays, "cert-days", pki.DefaultCertDays, "days the client certificate is valid (never past the CA's expiry)")
	fl.StringVar(&f.passFile, "passphrase-file", "", "file holding the passphrase that encrypts rootca.key (one trailing newline is ignored)")
	fl.BoolVar(&f.noPass, "no-passphrase", false, "write rootca.key unencrypted (keep it offline)")
	fl.BoolVar(&f.force, "force", false, "replace existing files in --dir")
	return cmd
}

func keyTypeNames() string {
	names := make([]string, len(pki.KeyTypes))
	for i, k := range pki.KeyTypes {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func runGenerate(cmd *cobra.Command, f generateFlags) error {
	ctx := cmd.Context()
	opts, err := generateOptions(f)
	if err != nil {
		return err
	}
	pass, err := generatePassphrase(ctx, f)
	if err != nil {
		return err
	}
	if !f.force {
		if err := pki.CheckNoFiles(f.dir); err != nil {
			return existsError(err)
		}
	}
	errw := cmd.ErrOrStderr()
	opts.Progress = func(e pki.GenEvent) {
		if e.Kind == pki.KeyStarted {
			fmt.Fprintf(errw, "generating the %s key (%s)…\n", e.Which, e.KeyType)
		}
	}
	set, err := pki.NewSetContext(ctx, opts)
	// RSA keys take seconds; an operator who pressed Ctrl-C meanwhile must
	// not find files written anyway.
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: nothing was written to %s: %w", f.dir, ctx.Err())
	}
	if err != nil {
		return asUsage(err)
	}
	wo := pki.WriteOptions{Passphrase: pass, Unencrypted: f.noPass, Force: f.force}
	written, err := pki.WriteFiles(f.dir, set, wo)
	if err != nil {
		return existsError(err)
	}
	printGenerated(cmd.OutOrStdout(), set, written, f.noPass)
	for _, w := range set.Warnings(opts, wo) {
		printWarning(errw, w)
	}
	return nil
}

// existsError words pki's "files already exist" in the CLI's terms (the
// --force flag) as bad input; other errors pass unchanged.
func existsError(err error) error {
	var ee *pki.ExistsError
	if !errors.As(err, &ee) {
		return err
	}
	return usagef("%w in %s: %s; pass --force to replace them (origins that trust the old CA will reject certificates from a new one), or choose another directory",
		pki.ErrExists, ee.Dir, strings.Join(ee.Names, ", "))
}

// printWarning prints one of pki's generate warnings: notes (nothing to
// fix) as "note:", the rest as "warning:", with the remedy after a ";".
func printWarning(w io.Writer, f pki.Finding) {
	label := "warning"
	if f.Code == pki.NoteCertExpiresWithCA || f.Code == pki.NoteCommonNameShortened {
		label = "note"
	}
	msg := f.Message
	if f.Remedy != "" {
		msg += "; " + f.Remedy
	}
	fmt.Fprintf(w, "%s: %s\n", label, msg)
}

func generateOptions(f generateFlags) (pki.SetOptions, error) {
	var o pki.SetOptions
	if f.dir == "" {
		return o, usagef("--dir is required: the directory to write rootca.key, rootca.crt, cert.key and cert.crt to")
	}
	if f.domain == "" {
		return o, usagef("--domain is required: the zone's domain, e.g. example.com")
	}
	if err := pki.ValidateDomain(f.domain); err != nil {
		return o, asUsage(err)
	}
	for _, h := range f.hostnames {
		if err := pki.ValidateHostname(h); err != nil {
			return o, asUsage(err)
		}
	}
	kt, err := pki.ParseKeyType(f.keyType)
	if err != nil {
		return o, asUsage(err)
	}
	for _, d := range []struct {
		flag string
		v    int
	}{{"--ca-days", f.caDays}, {"--cert-days", f.certDays}} {
		if d.v < 1 || d.v > pki.MaxDays {
			return o, usagef("%s %d is out of range: use 1 to %d days", d.flag, d.v, pki.MaxDays)
		}
	}
	return pki.SetOptions{Domain: f.domain, Hostnames: f.hostnames, KeyType: kt, CADays: f.caDays, CertDays: f.certDays}, nil
}

// generatePassphrase returns the passphrase for rootca.key, or nil with
// --no-passphrase; an empty one is refused, so an unencrypted CA key is
// always a choice.
func generatePassphrase(ctx context.Context, f generateFlags) ([]byte, error) {
	env := os.Getenv(envCAPassphrase)
	switch {
	case f.noPass && (f.passFile != "" || env != ""):
		return nil, usagef("--no-passphrase conflicts with a passphrase from --passphrase-file or %s: use one or the other", envCAPassphrase)
	case f.noPass:
		return nil, nil
	case f.passFile != "":
		return readPassphrase(ctx, f.passFile)
	case env != "":
		return []byte(env), nil
	}
	return nil, usagef("no passphrase for %s: put it in a file and pass --passphrase-file FILE, or set %s, or pass --no-passphrase to write the CA key unencrypted", pki.CAKeyFile, envCAPassphrase)
}

// readPassphrase reads a --passphrase-file; every failure but an interrupt
// is bad input.
func readPassphrase(ctx context.Context, path string) ([]byte, error) {
	pass, err := pki.ReadPassphrase(ctx, path)
	if err != nil && ctx.Err() == nil {
		return nil, asUsage(err)
	}
	return pass, err
}

func printGenerated(w io.Writer, set *pki.Set, written []pki.WrittenFile, noPass bool) {
	caKey := "encrypted (PKCS#8, AES-256)"
	if noPass {
		caKey = "NOT encrypted"
	}
	describe := map[string]string{
		pki.CAKeyFile:      fmt.Sprintf("CA private key, %s, %s", pki.DescribeKey(set.CA.Key.Public()), caKey),
		pki.CACertFile:     certSummary("CA certificate", set.CA),
		pki.ClientKeyFile:  fmt.Sprintf("client private key, %s, unencrypted (Cloudflare needs it so)", pki.DescribeKey(set.Client.Key.Public())),
		pki.ClientCertFile: certSummary("client certificate", set.Client),
	}
	dir := filepath.Dir(written[0].Path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	fmt.Fprintf(w, "Wrote %d files to %s:\n", len(written), dir)
	for _, f := range written {
		name := filepath.Base(f.Path)
		fmt.Fprintf(w, "  %-11s %04o  %s\n", name, f.Mode, describe[name])
	}
	fmt.Fprintf(w, "\nNext:\n"+
		"  - upload %s and %s to Cloudflare (zone-level or per-hostname AOP)\n"+
		"  - install %s on the origin as the CA it verifies client certificates with\n"+
		"  - keep %s and its passphrase offline: it can issue client certificates your origin accepts\n",
		pki.ClientCertFile, pki.ClientKeyFile, pki.CACertFile, pki.CAKeyFile)
}

func certSummary(what string, p *pki.Pair) string {
	c := p.Cert
	s := fmt.Sprintf("%s, CN=%s", what, c.Subject.CommonName)
	if len(c.DNSNames) > 0 {
		s += ", DNS " + strings.Join(c.DNSNames, " ")
	}
	return s + fmt.Sprintf(", expires %s, SHA-256 %s", c.NotAfter.UTC().Format(time.DateOnly), pki.Fingerprint(c))
}

type checkFlags struct {
	ca, cert, key, passFile string
	hostnames               []string
	json                    bool
}

func newPKICheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that a CA, client certificate and key are fit for AOP upload",
		Long: "Check your own material before uploading it: the key matches the certificate, the\n" +
			"certificate is a leaf (CA:FALSE) issued by the CA for client authentication, both are\n" +
			"valid now, the key type is one Cloudflare accepts and the key is unencrypted.\n\n" +
			"Exit status 0 when fit for upload (warnings are printed), 1 with every problem listed\n" +
			"and what to do about it, 2 on bad input (unreadable files, bad flags).",
		Example: "  aopwizard pki check --ca rootca.crt --cert cert.crt --key cert.key --hostname app.example.com",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runCheck(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ca, "ca", "", "the CA certificate the origin will trust (PEM or DER; may hold several CAs)")
	fl.StringVar(&f.cert, "cert", "", "client certificate to upload (PEM or DER; extra certificates are treated as its chain)")
	fl.StringVar(&f.key, "key", "", "private key of the client certificate")
	fl.StringSliceVar(&f.hostnames, "hostname", nil, "hostname the certificate is for (repeatable); a mismatch is a warning")
	fl.StringVar(&f.passFile, "passphrase-file", "", "passphrase of an encrypted --key, so the other checks can run (it must still be decrypted for upload)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	return cmd
}

func runCheck(cmd *cobra.Command, f checkFlags) error {
	in := pki.CheckInput{CAName: f.ca, CertName: f.cert, KeyName: f.key}
	for _, x := range []struct {
		flag, path string
		dst        *[]byte
	}{{"--ca", f.ca, &in.CA}, {"--cert", f.cert, &in.Cert}, {"--key", f.key, &in.Key}} {
		if x.path == "" {
			return usagef("%s is required: pass --ca, --cert and --key", x.flag)
		}
		data, err := pki.ReadInput(cmd.Context(), x.path, pki.MaxInputSize)
		if err != nil && cmd.Context().Err() != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if err != nil {
			return usagef("read %s: %w", x.flag, err)
		}
		*x.dst = data
	}
	for _, h := range f.hostnames {
		if err := pki.ValidateHostname(h); err != nil {
			return asUsage(err)
		}
	}
	in.Hostnames = f.hostnames
	if f.passFile != "" {
		pass, err := readPassphrase(cmd.Context(), f.passFile)
		if err != nil {
			return err
		}
		in.Passphrase = pass
	}
	r := pki.Check(in)
	cliRemedies(r)
	out := cmd.OutOrStdout()
	if f.json {
		if err := writeJSON(out, struct {
			OK bool `json:"ok"`
			*pki.Report
		}{r.OK(), r}); err != nil {
			return err
		}
	} else {
		printReport(out, r, f)
	}
	if !r.OK() {
		return fmt.Errorf("%d problem(s) found: %s and %s are not fit for AOP upload yet", len(r.Problems), f.cert, f.key)
	}
	return nil
}

// flagRemedies replace the remedies of pki.Check findings whose fix is a
// flag of this command: the library words them in product terms.
var flagRemedies = map[string]string{
	"key-not-checked":   "pass --passphrase-file to check it as well",
	"hostname-mismatch": "issue certificates that name the hostname (aopwizard pki generate --hostname)",
}

func cliRemedies(r *pki.Report) {
	for _, fs := range [][]pki.Finding{r.Problems, r.Warnings} {
		for i := range fs {
			if s, ok := flagRemedies[fs[i].Code]; ok {
				fs[i].Remedy = s
			}
		}
	}
}

func printReport(w io.Writer, r *pki.Report, f checkFlags) {
	for i, p := range r.Problems {
		fmt.Fprintf(w, "problem %d: %s\n", i+1, p.Message)
		if p.Remedy != "" {
			fmt.Fprintf(w, "  fix: %s\n", p.Remedy)
		}
	}
	for _, p := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", p.Message)
		if p.Remedy != "" {
			fmt.Fprintf(w, "  fix: %s\n", p.Remedy)
		}
	}
	if r.OK() {
		leaf := r.Chain[0]
		fmt.Fprintf(w, "ok: %s (CN=%s, expires %s) and %s are fit for AOP upload; install %s on the origin\n",
			f.cert, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly), f.key, f.ca)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPKIInspectCmd() *cobra.Command {
	var asJSON bool
	var passFile string
	cmd := &cobra.Command{
		Use:   "inspect FILE...",
		Short: "Show what certificate and key files hold (never the key itself)",
		Long: "Show each certificate's subject, issuer, serial, validity and days left, key type and size,\n" +
			"SHA-256 fingerprint and CA flag, and each private key's type and whether it is encrypted.",
		Example: "  aopwizard pki inspect rootca.crt cert.crt cert.key\n  aopwizard pki inspect --json cert.crt",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pass []byte
			if passFile != "" {
				var err error
				if pass, err = readPassphrase(cmd.Context(), passFile); err != nil {
					return err
				}
			}
			return runInspect(cmd, args, pass, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per file")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "passphrase of an encrypted key, to show its type")
	return cmd
}

func runInspect(cmd *cobra.Command, files []string, pass []byte, asJSON bool) error {
	now := time.Now()
	infos := []*pki.FileInfo{}
	var errs []error
	for _, name := range files {
		data, err := pki.ReadInput(cmd.Context(), name, pki.MaxInputSize)
		if err != nil && cmd.Context().Err() != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot read file: %w", err))
			continue
		}
		fi, err := pki.Inspect(name, data, pass, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		infos = append(infos, fi)
	}
	out := cmd.OutOrStdout()
	if asJSON {
		if err := writeJSON(out, infos); err != nil {
			return err
		}
	} else {
		for i, fi := range infos {
			if i > 0 {
				fmt.Fprintln(out)
			}
			if err := fi.WriteText(out); err != nil {
				return err
			}
		}
	}
	return asUsage(errors.Join(errs...))
}
