package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/aopwizard/aopwizard/origin/spec"
)

// specFileFlag names the flag that reads an origin spec file.
const specFileFlag = "spec"

// specKeyFlags names the flag of each spec file key that is not the key
// itself (the others are their flag's name).
var specKeyFlags = map[string]string{"hostnames": "hostname", "host-cas": "host-ca"}

// mergeSpecFile sets every flag the command line left unset from the
// --spec file, if one is given: flags given win over the file. Keys for
// flags the command does not have (the server layout, for render) are
// ignored. A file that cannot be read or has unknown keys or values of the
// wrong type is bad input, every problem at once.
func mergeSpecFile(fl *pflag.FlagSet) error {
	sf := fl.Lookup(specFileFlag)
	if sf == nil || sf.Value.String() == "" {
		return nil
	}
	file, err := spec.Load(sf.Value.String())
	if err != nil {
		return asUsage(err)
	}
	var errs []error
	for _, v := range file.Values() {
		name := v.Key
		if n, ok := specKeyFlags[name]; ok {
			name = n
		}
		if fl.Lookup(name) == nil || fl.Changed(name) {
			continue
		}
		for _, s := range v.Values {
			if err := fl.Set(name, s); err != nil {
				errs = append(errs, fmt.Errorf("key %s: %w", v.Key, err))
			}
		}
	}
	if len(errs) > 0 {
		return usagef("origin spec file %s: %w", sf.Value.String(), errors.Join(errs...))
	}
	return nil
}
