package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"

	"fmt"
	gojson "github.com/goccy/go-json"
	"io"
	"time"

	"github.com/trackplan/trackplan"
)

// ScorePoint is one point of an account's score history.
type ScorePoint struct {
	At    time.Time `json:"at"`
	Score float64   `json:"score"`
}

// EncodeRun serialises a score run for a snapshot: gzipped JSON, so a run of
// a million users stays a few megabytes.
func EncodeRun(run *trackplan.ScoreRun) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(run); err != nil {
		return nil, fmt.Errorf("encode %s scores: %w", run.Profile, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress %s scores: %w", run.Profile, err)
	}
	return buf.Bytes(), nil
}

// DecodeRun reads a snapshot written by EncodeRun.
func DecodeRun(body []byte) (*trackplan.ScoreRun, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("open score snapshot: %w", err)
	}
	var run trackplan.ScoreRun
	if err := gojson.NewDecoder(io.Reader(zr)).Decode(&run); err != nil {
		return nil, fmt.Errorf("decode score snapshot: %w", err)
	}
	return &run, nil
}

// EraseFromRun removes the given users and accounts from an encoded score
// run and reports the new body and whether anything was removed.
func EraseFromRun(body []byte, userIDs, groupIDs map[string]bool) ([]byte, bool, error) {
	run, err := DecodeRun(body)
	if err != nil {
		return nil, false, err
	}
	users := run.Users[:0]
	for _, u := range run.Users {
		if !userIDs[u.ID] {
			users = append(users, u)
		}
	}
	accounts := run.Accounts[:0]
	changed := len(users) != len(run.Users)
	for _, a := range run.Accounts {
		if groupIDs[a.ID] {
			changed = true
			continue
		}
		if userIDs[a.LastActiveUser] {
			a.LastActiveUser, changed = "", true
		}
		accounts = append(accounts, a)
	}
	if !changed {
		return body, false, nil
	}
	run.Users, run.Accounts = users, accounts
	out, err := EncodeRun(run)
	return out, err == nil, err
}
