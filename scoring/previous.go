package scoring

import (
	"math"

	"github.com/trackplan/trackplan"
)

// Previous holds the scores of one time frame earlier: the baseline of the
// trends. Users and accounts it does not know count as 0.
type Previous struct {
	// Computed by PreviousScores: by index into in.
	in         *Input
	userScores []uint8
	acctTenths []int32 // average score × 10

	// Read from a snapshot by PreviousFromRun: by id.
	users    map[string]int
	accounts map[string]int32
}

// PreviousFromRun returns the baseline held by an earlier run's snapshot.
func PreviousFromRun(run *trackplan.ScoreRun) *Previous {
	p := &Previous{users: make(map[string]int, len(run.Users)), accounts: make(map[string]int32, len(run.Accounts))}
	for _, u := range run.Users {
		if u.Score != 0 {
			p.users[u.ID] = u.Score
		}
	}
	for _, a := range run.Accounts {
		if a.AverageScore != 0 {
			p.accounts[a.ID] = int32(math.Round(a.AverageScore * 10))
		}
	}
	return p
}

// user returns the earlier score of user u of in.
func (p *Previous) user(in *Input, u uint32) int {
	if p.in != nil {
		return int(p.userScores[u])
	}
	return p.users[in.userIDs[u]]
}

// account returns ten times the earlier average score of account a of in.
func (p *Previous) account(in *Input, a uint32) int32 {
	if p.in != nil {
		return p.acctTenths[a]
	}
	return p.accounts[in.acctIDs[a]]
}
