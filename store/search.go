package store

import (
	"context"
	"encoding/json"
	"strings"
)

// Searcher finds accounts and users by a part of their id or of one
// trait, for the dashboard's search. Matching is a case-insensitive
// substring match; letters outside ASCII match only in the case given.
type Searcher interface {
	// SearchAccounts returns the accounts whose group id, or whose trait
	// named nameTrait (when it is a string), contains text, ordered by id,
	// at most limit. Label is that trait.
	SearchAccounts(ctx context.Context, text, nameTrait string, limit int) ([]Match, error)
	// SearchUsers returns the users (userIds) whose id, or whose email
	// trait (when it is a string), contains text, ordered by id, at most
	// limit. Label is the email trait.
	SearchUsers(ctx context.Context, text string, limit int) ([]Match, error)
}

// Match is an account or a user a search found.
type Match struct {
	ID string
	// Label is the trait shown with the id ("" when it has none).
	Label string
}

// EmailTrait is the user trait SearchUsers looks in.
const EmailTrait = "email"

// LikePattern is the LIKE pattern (with \ as the escape character) that
// matches strings containing text.
func LikePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// TraitLabel is the label of a trait's JSON value: the string it holds,
// "" for any other value.
func TraitLabel(value string) string {
	var s string
	if value == "" || json.Unmarshal([]byte(value), &s) != nil {
		return ""
	}
	return s
}
