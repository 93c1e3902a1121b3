package cfsim

// DeleteCertificateOutOfBand marks a certificate of the zone deleted without
// the API's rule that a hostname certificate's associations be voided first,
// and reports whether it found the certificate. It stands for states the API
// alone does not produce but real zones end up in (docs/cloudflare-api.md,
// "Deleting a hostname certificate"): a certificate removed by support or by
// another tool while hostnames still point at it. Its associations stay as
// they were, so GETs show them with cert_status deleted.
func (s *Sim) DeleteCertificateOutOfBand(zoneName, certID string) bool {
	return readZone(s, zoneName, func(z *zone) bool {
		for _, c := range z.certs {
			if c.id == certID {
				c.life.deleting = true
				c.life.delGets = max(1, s.opts.DeployAfter)
				c.updated = s.clock()
				return true
			}
		}
		return false
	})
}
