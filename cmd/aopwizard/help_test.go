package main

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
)

// fang prints a flag's default after its description unless it is empty,
// false, 0 or [], and title-cases the first word of every flag description (as
// cases.Title does, lower-casing the rest of the word), which garbles
// words like "CA", "HOST=PATH" or "http(s)://host". Descriptions must start
// with a word that survives it.
func TestFlagDescriptionsSurviveFangTitleCase(t *testing.T) {
	title := cases.Title(language.AmericanEnglish)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			first, _, _ := strings.Cut(strings.TrimSpace(f.Usage), " ")
			if first == "" {
				t.Errorf("%s --%s has no description", c.CommandPath(), f.Name)
				return
			}
			if strings.Contains(f.Usage, "(default") && f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
				t.Errorf("%s --%s: help would show its default twice: %q and (%s)", c.CommandPath(), f.Name, f.Usage, f.DefValue)
			}
			r, n := utf8.DecodeRuneInString(first)
			want := string(unicode.ToUpper(r)) + first[n:]
			if got := title.String(first); got != want {
				t.Errorf("%s --%s: help would show %q for %q; reword the start of %q", c.CommandPath(), f.Name, got, first, f.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}
