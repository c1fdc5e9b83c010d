package ingest

import (
	"context"
	"sync"

	"github.com/trackplan/trackplan"
)

// Async submits chunks without waiting for each commit, at most inFlight
// at a time, so a reader (import, drift --events) decodes the next chunk
// while the previous one commits; concurrent submissions are grouped into
// the same transactions. Wait returns the first error.
type Async struct {
	p   *Pipeline
	sem chan struct{}
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

// NewAsync submits to p with at most inFlight chunks waiting for a commit.
func NewAsync(p *Pipeline, inFlight int) *Async {
	return &Async{p: p, sem: make(chan struct{}, max(1, inFlight))}
}

// Submit hands a chunk on; the caller must not touch the slices afterwards.
// It returns the error of an earlier chunk, if any, so a reader stops early.
func (a *Async) Submit(ctx context.Context, msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
	if err := a.firstErr(); err != nil {
		return err
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	a.wg.Add(1)
	go func() {
		defer func() { <-a.sem; a.wg.Done() }()
		if err := a.p.Submit(ctx, msgs, rejs); err != nil {
			a.mu.Lock()
			if a.err == nil {
				a.err = err
			}
			a.mu.Unlock()
		}
	}()
	return nil
}

// Wait waits for every chunk's commit and returns the first error.
func (a *Async) Wait() error {
	a.wg.Wait()
	return a.firstErr()
}

func (a *Async) firstErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}
