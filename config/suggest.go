package config

import (
	"strings"

	"github.com/agext/levenshtein"
)

// suggest returns the candidate closest to given when it is close enough to be a likely typo.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		d := levenshtein.Distance(strings.ToLower(given), strings.ToLower(c), nil)
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 3
	if len(given) <= 4 {
		limit = 2
	}
	if bestDist <= limit || (best != "" && strings.EqualFold(best, given)) {
		return best
	}
	return ""
}

// didYouMean formats a " Did you mean "x"?" sentence, or "" when nothing is close.
func didYouMean(given string, candidates []string) string {
	if s := suggest(given, candidates); s != "" {
		return " Did you mean \"" + s + "\"?"
	}
	return ""
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = "\"" + s + "\""
	}
	return strings.Join(q, ", ")
}
