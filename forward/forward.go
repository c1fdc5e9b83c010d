package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Store is what the forwarder reads and keeps: the event log and the
// forwarding outbox state.
type Store interface {
	ReadLog(ctx context.Context, after int64, maxRecords int, fn func(store.LogBlock) error) error
	LogHead(ctx context.Context) (int64, error)
	store.Forwarding
}

// Source is one source's forwarding: where to, with which write key, and
// its enforcement policy.
type Source struct {
	Name     string
	Endpoint string // default DefaultEndpoint
	WriteKey string
	Policy   Policy
}

// Outcomes reported to Options.Observe, besides the Held* reasons of
// package store.
const (
	OutcomeForwarded = "forwarded"
	OutcomeRetried   = "retried" // a batch sent again after an error
)

// Options tune a Forwarder.
type Options struct {
	Sources []Source
	// Client sends the batches (default: a client with a 30-second
	// timeout).
	Client *http.Client
	// Plan returns the current plan, nil while none is loaded: a source
	// whose policy needs one waits for it.
	Plan   func() *trackplan.Plan
	Logger *slog.Logger
	Now    func() time.Time
	// Interval is how often a source looks at the log when not notified
	// (default 1s).
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts at a
	// batch the destination did not take (default 1s and 5m).
	MinBackoff, MaxBackoff time.Duration
	// BatchRecords caps the messages of a batch (default and most 500).
	BatchRecords int
	// Observe, if set, is told how many messages of a source met an
	// outcome (OutcomeForwarded, OutcomeRetried, a store.Held* reason).
	Observe func(source, outcome string, n int)
}

// Forwarder forwards the sources' messages from the log, one goroutine a
// source, so an outage of one destination holds back no other.
type Forwarder struct {
	st    Store
	opts  Options
	loops []*loop

	planMu  sync.Mutex
	planFor *trackplan.Plan
	checked *checkedPlan
}

// New returns a Forwarder for the sources; Run starts it.
func New(st Store, opts Options) (*Forwarder, error) {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	// Redirects are not followed: see sink.send.
	client := *opts.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	opts.Client = &client
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(5*time.Minute, opts.MinBackoff)
	}
	if opts.BatchRecords <= 0 || opts.BatchRecords > maxBatchRecords {
		opts.BatchRecords = maxBatchRecords
	}
	if opts.Plan == nil {
		opts.Plan = func() *trackplan.Plan { return nil }
	}
	f := &Forwarder{st: st, opts: opts}
	seen := map[string]bool{}
	for _, s := range opts.Sources {
		if s.Name == "" || seen[s.Name] {
			return nil, fmt.Errorf("forward: source %q is empty or given twice", s.Name)
		}
		seen[s.Name] = true
		if s.Endpoint == "" {
			s.Endpoint = DefaultEndpoint
		}
		f.loops = append(f.loops, &loop{f: f, src: s, wake: make(chan struct{}, 1),
			sink: newSink(s.Endpoint, s.WriteKey, opts.Client, opts.Now)})
	}
	return f, nil
}

// Sources names the forwarding sources.
func (f *Forwarder) Sources() []string {
	names := make([]string, len(f.loops))
	for i, l := range f.loops {
		names[i] = l.src.Name
	}
	return names
}

// Start gives every source that has none a cursor at the log's head: what
// arrives from then on is forwarded. Every process that accepts messages
// calls it before it listens, so that no message it accepts falls before a
// cursor created later (by another process, or when this one starts
// forwarding). Sources that had a cursor keep it.
func (f *Forwarder) Start(ctx context.Context) error {
	head, err := f.st.LogHead(ctx)
	if err != nil {
		return fmt.Errorf("read the log head: %w", err)
	}
	for _, l := range f.loops {
		if _, err := f.st.ForwardStart(ctx, l.src.Name, head); err != nil {
			return err
		}
	}
	return nil
}

// Run forwards until ctx ends, one loop a source.
func (f *Forwarder) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range f.loops {
		wg.Go(func() { l.run(ctx) })
	}
	wg.Wait()
}

// Notify tells every source that the log grew. A nil Forwarder ignores it.
func (f *Forwarder) Notify() {
	if f == nil {
		return
	}
	for _, l := range f.loops {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// plan returns the current plan, compiled once per plan.
func (f *Forwarder) plan() *checkedPlan {
	p := f.opts.Plan()
	if p == nil {
		return nil
	}
	f.planMu.Lock()
	defer f.planMu.Unlock()
	if f.planFor != p {
		f.planFor, f.checked = p, &checkedPlan{plan: p, checker: trackplan.NewChecker(p)}
	}
	return f.checked
}

// loop forwards one source.
type loop struct {
	f    *Forwarder
	src  Source
	sink *sink
	wake chan struct{}
}

// item is one message on its way: its record and its outgoing JSON.
type item struct {
	seq  int64
	msg  *trackplan.Message
	out  json.RawMessage
	at   time.Time // the arrival of its block
	size int
}

func (l *loop) run(ctx context.Context) {
	log := l.f.opts.Logger.With("source", l.src.Name)
	var cursor int64
	b := l.backoff()
	for {
		head, err := l.f.st.LogHead(ctx)
		if err == nil {
			var st store.ForwardState
			// Start made the cursor; without it, a new source starts at the
			// log's head.
			st, err = l.f.st.ForwardStart(ctx, l.src.Name, head)
			cursor = st.Cursor
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		log.Error("could not read the forwarding cursor", "err", err)
		if !b.wait(ctx, 0) {
			return
		}
	}
	waiting := false
	for ctx.Err() == nil {
		var plan *checkedPlan
		if l.src.Policy.NeedsPlan() {
			if plan = l.f.plan(); plan == nil {
				if !waiting {
					log.Warn("forwarding waits for a plan: the source's policy judges messages against it", "policy", l.src.Policy.String())
					waiting = true
				}
				l.sleep(ctx)
				continue
			}
			waiting = false
		}
		moved, err := l.step(ctx, &cursor, plan)
		switch {
		case errors.Is(err, store.ErrCursorMoved):
			// Another process forwarded these records: go on from its cursor.
			if st, serr := l.f.st.ForwardStart(ctx, l.src.Name, cursor); serr == nil {
				cursor = st.Cursor
			}
		case err != nil && ctx.Err() == nil:
			log.Error("forwarding failed", "err", err)
			if !b.wait(ctx, 0) {
				return
			}
		case err == nil && !moved:
			b.reset()
			l.sleep(ctx)
		default:
			b.reset()
		}
	}
}

// sleep waits for a notification or the interval.
func (l *loop) sleep(ctx context.Context) {
	t := time.NewTimer(l.f.opts.Interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-l.wake:
	case <-t.C:
	}
}

// readRecords is about how many log records one step reads.
const readRecords = 5000

// step forwards what the log holds after the cursor, up to about
// readRecords records, and reports whether the cursor moved.
func (l *loop) step(ctx context.Context, cursor *int64, plan *checkedPlan) (bool, error) {
	var (
		items []item
		held  []store.HeldMessage
		end   = *cursor
	)
	err := l.f.st.ReadLog(ctx, *cursor, readRecords, func(b store.LogBlock) error {
		recs, err := store.DecodeMessages(b, l.src.Name, l.src.Policy.NeedsPlan())
		if err != nil {
			return err
		}
		for _, r := range recs {
			m := r.Message
			if r.Seq <= *cursor {
				continue
			}
			v := l.src.Policy.judge(m, plan)
			if v.held != "" {
				held = append(held, store.HeldMessage{Seq: r.Seq, Reason: v.held, MessageID: m.MessageID, Arrived: b.At})
				continue
			}
			out, err := outgoing(m, v.strip)
			if err != nil {
				held = append(held, store.HeldMessage{Seq: r.Seq, Reason: store.HeldRefused, MessageID: m.MessageID,
					Arrived: b.At, Detail: err.Error()})
				continue
			}
			items = append(items, item{seq: r.Seq, msg: m, out: out, at: b.At, size: len(out)})
		}
		end = max(end, b.Last)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read the log after %d: %w", *cursor, err)
	}
	if end == *cursor {
		return false, nil
	}
	// Batches in order. The cursor moves past an acknowledged batch, with
	// the messages held before it, at most every advanceEvery (each move
	// is a write transaction, and the ingest path shares the store), and
	// at the end of the step: a crash sends at most that much again.
	var (
		sent      int
		pending   []store.HeldMessage
		moved     = time.Now()
		delivered = *cursor // the last record of the last acknowledged batch
	)
	for len(items) > 0 {
		var batch []item
		batch, items = l.f.nextBatch(items)
		n, refused, err := l.deliver(ctx, batch)
		if err != nil {
			// Stopping: what the destination took is recorded, so that
			// it is not sent again.
			if delivered > *cursor {
				if aerr := l.advance(ctx, cursor, delivered, sent, pending); aerr != nil {
					return false, errors.Join(err, aerr)
				}
			}
			return false, err
		}
		last := batch[len(batch)-1].seq
		delivered = last
		for len(held) > 0 && held[0].Seq < last {
			pending, held = append(pending, held[0]), held[1:]
		}
		pending = append(pending, refused...)
		sent += n
		if len(items) > 0 && time.Since(moved) < advanceEvery {
			continue
		}
		if err := l.advance(ctx, cursor, last, sent, pending); err != nil {
			return false, err
		}
		sent, pending, moved = 0, nil, time.Now()
	}
	if err := l.advance(ctx, cursor, end, sent, append(pending, held...)); err != nil {
		return false, err
	}
	return true, nil
}

// nextBatch splits off the first batch of items: as many as Segment's
// limits and BatchRecords allow, at least one.
func (f *Forwarder) nextBatch(items []item) (batch, rest []item) {
	n, size := 0, 0
	for n < len(items) && n < f.opts.BatchRecords && (n == 0 || size+items[n].size+1 <= maxBatchBytes) {
		size += items[n].size + 1
		n++
	}
	return items[:n], items[n:]
}

// advanceEvery is how often a step moves the cursor while it sends.
const advanceEvery = 250 * time.Millisecond

// advance moves the cursor and reports the outcomes.
func (l *loop) advance(ctx context.Context, cursor *int64, to int64, sent int, held []store.HeldMessage) error {
	if to == *cursor && sent == 0 && len(held) == 0 {
		return nil
	}
	// What the destination acknowledged is recorded even while stopping.
	if err := l.f.st.ForwardAdvance(context.WithoutCancel(ctx), l.src.Name, *cursor, to, int64(sent), held); err != nil {
		return err
	}
	*cursor = to
	if obs := l.f.opts.Observe; obs != nil {
		if sent > 0 {
			obs(l.src.Name, OutcomeForwarded, sent)
		}
		for _, h := range held {
			obs(l.src.Name, h.Reason, 1)
		}
	}
	return nil
}

// deliver sends a batch until the destination takes it, splitting a
// refused batch in halves until the refused messages are alone. It returns
// how many were sent and the refused ones, held; an error only when ctx
// ended.
func (l *loop) deliver(ctx context.Context, batch []item) (int, []store.HeldMessage, error) {
	b := l.backoff()
	for {
		outs := make([]json.RawMessage, len(batch))
		for i, it := range batch {
			outs[i] = it.out
		}
		err := l.sink.send(ctx, outs)
		if err == nil {
			return len(batch), nil, nil
		}
		var refused *refusedError
		if errors.As(err, &refused) {
			if len(batch) == 1 {
				it := batch[0]
				l.f.opts.Logger.Warn("destination refused a message: held", "source", l.src.Name,
					"message_id", it.msg.MessageID, "status", refused.status, "answer", refused.body)
				return 0, []store.HeldMessage{{Seq: it.seq, Reason: store.HeldRefused, MessageID: it.msg.MessageID,
					Arrived: it.at, Detail: fmt.Sprintf("%d %s", refused.status, refused.body)}}, nil
			}
			half := len(batch) / 2
			n1, h1, err := l.deliver(ctx, batch[:half])
			if err != nil {
				return 0, nil, err
			}
			n2, h2, err := l.deliver(ctx, batch[half:])
			if err != nil {
				return 0, nil, err
			}
			return n1 + n2, append(h1, h2...), nil
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		l.f.opts.Logger.Warn("destination did not take a batch: will retry", "source", l.src.Name,
			"messages", len(batch), "err", err)
		if ferr := l.f.st.ForwardFailed(ctx, l.src.Name, err.Error(), l.f.opts.Now()); ferr != nil && ctx.Err() == nil {
			l.f.opts.Logger.Warn("could not record the forwarding error", "source", l.src.Name, "err", ferr)
		}
		if obs := l.f.opts.Observe; obs != nil {
			obs(l.src.Name, OutcomeRetried, len(batch))
		}
		var re *retryError
		var after time.Duration
		if errors.As(err, &re) {
			after = re.after
		}
		if !b.wait(ctx, after) {
			return 0, nil, ctx.Err()
		}
	}
}

// backoff doubles a wait from MinBackoff up to MaxBackoff.
type backoff struct {
	min, max, next time.Duration
}

func (l *loop) backoff() *backoff {
	return &backoff{min: l.f.opts.MinBackoff, max: l.f.opts.MaxBackoff, next: l.f.opts.MinBackoff}
}

func (b *backoff) reset() { b.next = b.min }

// wait sleeps the next backoff, or at least asked; false when ctx ended.
func (b *backoff) wait(ctx context.Context, asked time.Duration) bool {
	d := max(b.next, min(asked, b.max))
	b.next = min(b.next*2, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
