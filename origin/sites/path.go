package sites

import "path/filepath"

// RealPath resolves symlinks (Debian's sites-enabled links): an atomic
// write to the link's path would replace the link with a copy, and
// sites-available would silently go stale. A path that cannot be resolved
// is returned as it is.
func RealPath(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return p
	}
	return r
}
