// Package ingest is the append path: it group-commits the normalised
// messages and rejections that several callers submit into the event log,
// one store transaction for the requests that arrive together. Submit
// returns only after the commit, so a caller may acknowledge exactly what is
// durable. Nothing else happens here: no plan check, no identity, no
// rollups; package derive does those from the log.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Store is what the pipeline needs from storage.
type Store interface {
	Append(ctx context.Context, b *store.LogBatch) (store.IngestResult, error)
}

// Options tune the pipeline.
type Options struct {
	// MaxBatch is how many messages one transaction takes at most
	// (default 10,000); smaller submissions are grouped up to it.
	MaxBatch int
	// QueueSize is how many submissions may wait for a commit (default 32:
	// about 8,000 messages, a few hundred milliseconds of commits).
	QueueSize int
	// QueueWait is how long Submit waits for room in a full queue before it
	// answers ErrOverloaded (default 2s): brief bursts are absorbed as
	// backpressure, sustained overload is refused.
	QueueWait time.Duration
	// CommitWait is how long Submit waits for its commit before it
	// answers ErrOverloaded (default 15s): a store that stops answering
	// gets its callers a prompt 503 to retry, not a hang. The submission
	// may still be committed later; nothing is acknowledged that was not.
	CommitWait time.Duration
	// CommitTimeout bounds one commit (default 1m), so the committer
	// never waits for ever on a store that does not answer.
	CommitTimeout time.Duration
	Logger        *slog.Logger
	// OnCommit, if set, is called after each commit with its size and
	// duration (for metrics, and to wake the aggregator).
	OnCommit func(r store.IngestResult, took time.Duration, err error)
	// Now is the clock that stamps each batch's acceptance (its arrival
	// day in the log; dedupe keys expire from it); nil means time.Now.
	Now func() time.Time
}

// Pipeline group-commits submissions into a store. Start it with Open and
// stop it with Close.
type Pipeline struct {
	st    Store
	opts  Options
	queue chan *submission

	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	mu     sync.RWMutex // held for reading by Submit while it queues; Close takes it to drain

	totals struct {
		sync.Mutex
		store.IngestResult
	}
}

type submission struct {
	batch store.LogBatch
	done  chan error
}

// Open starts a pipeline writing into st.
func Open(st Store, opts Options) *Pipeline {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 10_000
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 32
	}
	if opts.QueueWait <= 0 {
		opts.QueueWait = 2 * time.Second
	}
	if opts.CommitWait <= 0 {
		opts.CommitWait = 15 * time.Second
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pipeline{st: st, opts: opts, queue: make(chan *submission, opts.QueueSize), cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run(ctx)
	}()
	return p
}

// Totals returns what the pipeline has committed since it opened.
func (p *Pipeline) Totals() store.IngestResult {
	p.totals.Lock()
	defer p.totals.Unlock()
	return p.totals.IngestResult
}

// Queued returns how many submissions wait for a commit.
func (p *Pipeline) Queued() int { return len(p.queue) }

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("ingest pipeline closed")

// Submit encodes msgs as log records and waits until they and the
// rejections are committed to the log. On a nil return everything is durable; on an
// error nothing of this submission is acknowledged (the store rolls back the
// whole transaction). It returns trackplan.ErrOverloaded when the queue is
// full.
func (p *Pipeline) Submit(ctx context.Context, msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
	if len(msgs) == 0 && len(rejs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &submission{done: make(chan error, 1)}
	s.batch.Messages, s.batch.Rejections = msgs, rejs
	s.batch.Lines = make([][]byte, len(msgs))
	for i, m := range msgs {
		line, err := store.EncodeMessage(m)
		if err != nil {
			return err
		}
		s.batch.Lines[i] = line
	}

	p.mu.RLock()
	if p.closed.Load() {
		p.mu.RUnlock()
		return ErrClosed
	}
	select {
	case p.queue <- s:
	default:
		timer := time.NewTimer(p.opts.QueueWait)
		select {
		case p.queue <- s:
			timer.Stop()
		case <-timer.C:
			p.mu.RUnlock()
			return fmt.Errorf("ingest queue full: %w", trackplan.ErrOverloaded)
		case <-ctx.Done():
			timer.Stop()
			p.mu.RUnlock()
			return ctx.Err()
		}
	}
	p.mu.RUnlock()

	// Once queued, the submission is committed or failed by the committer
	// whatever happens to ctx. Its caller waits for that outcome, up to
	// CommitWait: past it the answer is "retry later", never an
	// acknowledgement.
	timer := time.NewTimer(p.opts.CommitWait)
	defer timer.Stop()
	select {
	case err := <-s.done:
		return err
	case <-timer.C:
		return fmt.Errorf("the store did not commit within %s: %w", p.opts.CommitWait, trackplan.ErrOverloaded)
	}
}

// ReasonStoreRejected is the rejection reason of a message the store could
// not take (store.ErrUnstorable) once it was isolated from the others.
const ReasonStoreRejected = "store_rejected"

// isolate commits a group whose append the store refused as unstorable:
// each submission on its own, and within one that fails, halves of its
// messages, down to single messages, which become store_rejected
// rejections. Every submission is answered by its own outcome.
func (p *Pipeline) isolate(ctx context.Context, group []*submission, at time.Time, start time.Time) {
	var total store.IngestResult
	var firstErr error
	for _, s := range group {
		b := s.batch
		b.At = at
		r, err := p.appendIsolated(ctx, &b)
		if err == nil {
			total.Stored += r.Stored
			total.Duplicates += r.Duplicates
			total.Rejected += r.Rejected
		} else if firstErr == nil {
			firstErr = err
		}
		s.done <- err
	}
	p.record(total, time.Since(start), firstErr)
}

// record reports a commit to OnCommit and counts what it stored.
func (p *Pipeline) record(r store.IngestResult, took time.Duration, err error) {
	if p.opts.OnCommit != nil {
		p.opts.OnCommit(r, took, err)
	}
	p.totals.Lock()
	p.totals.Stored += r.Stored
	p.totals.Duplicates += r.Duplicates
	p.totals.Rejected += r.Rejected
	p.totals.Unlock()
}

// appendIsolated appends b, splitting it while the store refuses its data.
func (p *Pipeline) appendIsolated(ctx context.Context, b *store.LogBatch) (store.IngestResult, error) {
	r, err := p.st.Append(ctx, b)
	if !errors.Is(err, store.ErrUnstorable) {
		return r, err
	}
	switch len(b.Messages) {
	case 0:
		return r, err // the rejections themselves: nothing left to isolate
	case 1:
		m := b.Messages[0]
		p.opts.Logger.Warn("a message the store cannot take was rejected", "source", m.Source, "err", err)
		rej := trackplan.Rejection{Source: m.Source, Reason: ReasonStoreRejected, Sample: trackplan.RejectionSample(m.Raw), ReceivedAt: m.ReceivedAt}
		return p.st.Append(ctx, &store.LogBatch{Rejections: slices.Concat(b.Rejections, []trackplan.Rejection{rej}), At: b.At})
	}
	half := len(b.Messages) / 2
	var out store.IngestResult
	for i, part := range []*store.LogBatch{
		{Messages: b.Messages[:half], Rejections: b.Rejections, At: b.At},
		{Messages: b.Messages[half:], At: b.At},
	} {
		if len(b.Lines) == len(b.Messages) {
			part.Lines = b.Lines[:half]
			if i == 1 {
				part.Lines = b.Lines[half:]
			}
		}
		r, err := p.appendIsolated(ctx, part)
		if err != nil {
			return out, err
		}
		out.Stored += r.Stored
		out.Duplicates += r.Duplicates
		out.Rejected += r.Rejected
	}
	return out, nil
}

// Close stops accepting submissions, commits everything already queued and
// waits for the committer to finish.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.closed.Swap(true) {
		p.mu.Unlock()
		return nil
	}
	close(p.queue)
	p.mu.Unlock()
	p.wg.Wait()
	p.cancel()
	return nil
}

func (p *Pipeline) run(ctx context.Context) {
	for first := range p.queue {
		group := []*submission{first}
		n := len(first.batch.Messages) + len(first.batch.Rejections)
	collect:
		for n < p.opts.MaxBatch {
			select {
			case s, ok := <-p.queue:
				if !ok {
					break collect
				}
				group = append(group, s)
				n += len(s.batch.Messages) + len(s.batch.Rejections)
			default:
				break collect
			}
		}
		p.commit(ctx, group)
	}
}

func (p *Pipeline) commit(ctx context.Context, group []*submission) {
	var b *store.LogBatch
	if len(group) == 1 {
		b = &group[0].batch
	} else {
		b = &store.LogBatch{}
		for _, s := range group {
			b.Messages = append(b.Messages, s.batch.Messages...)
			b.Rejections = append(b.Rejections, s.batch.Rejections...)
			b.Lines = append(b.Lines, s.batch.Lines...)
		}
	}
	b.At = p.opts.Now().UTC()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.opts.CommitTimeout)
	defer cancel()
	r, err := p.st.Append(ctx, b)
	if errors.Is(err, store.ErrUnstorable) {
		// Something in the group is data the store cannot hold: find it,
		// so it fails alone and every other submission is kept.
		p.isolate(ctx, group, b.At, start)
		return
	}
	p.record(r, time.Since(start), err)
	if err != nil {
		p.opts.Logger.Error("commit failed", "messages", len(b.Messages), "err", err)
		err = fmt.Errorf("store batch: %w", err)
	}
	for _, s := range group {
		s.done <- err
	}
}
