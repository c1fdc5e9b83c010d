package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trackplan/trackplan/store"
)

// ReplayResult counts what a replay did with a source's held messages.
type ReplayResult struct {
	Source string `json:"source"`
	// Sent were forwarded and are no longer held.
	Sent int `json:"sent"`
	// StillHeld are held still, by reason: the policy still blocks them,
	// or the destination refused them again.
	StillHeld map[string]int `json:"still_held"`
	// Gone are no longer in the log (pruned by retention, or erased).
	Gone int `json:"gone"`
}

// Replay forwards a source's held messages that arrived at or after since
// and that its policy, judged against the current plan, now lets through;
// messages the destination refused are offered to it again. It returns when
// they were all sent, refused or found still blocked, or when ctx ends.
func (f *Forwarder) Replay(ctx context.Context, source string, since time.Time) (ReplayResult, error) {
	res := ReplayResult{Source: source, StillHeld: map[string]int{}}
	var l *loop
	for _, x := range f.loops {
		if x.src.Name == source {
			l = x
		}
	}
	if l == nil {
		return res, fmt.Errorf("source %q does not forward", source)
	}
	var plan *checkedPlan
	if l.src.Policy.NeedsPlan() {
		if plan = f.plan(); plan == nil {
			return res, errors.New("no plan is loaded: the source's policy judges messages against it")
		}
	}
	// In pages of held messages: each page's stretch of the log is read,
	// then sent, so a long replay makes progress as it goes, in bounded
	// memory.
	var after int64
	for {
		held, err := f.st.ForwardHeld(ctx, source, since, after, heldPerWindow)
		if err != nil || len(held) == 0 {
			return res, err
		}
		if err := f.replayWindow(ctx, l, plan, held, &res); err != nil {
			return res, err
		}
		after = held[len(held)-1].Seq
	}
}

// heldPerWindow is how many held messages a replay reads and sends at a
// time.
const heldPerWindow = 1000

// replayWindow reads the log records of held (in log order) and sends those
// the policy now lets through, releasing them once the destination took
// them.
func (f *Forwarder) replayWindow(ctx context.Context, l *loop, plan *checkedPlan, held []store.HeldMessage, res *ReplayResult) error {
	source := l.src.Name
	want := make(map[int64]store.HeldMessage, len(held))
	for _, h := range held {
		want[h.Seq] = h
	}
	last := held[len(held)-1].Seq
	var items []item
	found := 0
	err := f.st.ReadLog(ctx, held[0].Seq-1, 1<<30, func(b store.LogBlock) error {
		if b.First > last {
			return errStop
		}
		recs, err := store.DecodeMessages(b, source, l.src.Policy.NeedsPlan())
		if err != nil {
			return err
		}
		for _, r := range recs {
			h, ok := want[r.Seq]
			if !ok {
				continue
			}
			found++
			v := l.src.Policy.judge(r.Message, plan)
			if v.held != "" {
				res.StillHeld[v.held]++
				continue
			}
			out, err := outgoing(r.Message, v.strip)
			if err != nil {
				res.StillHeld[h.Reason]++
				continue
			}
			items = append(items, item{seq: r.Seq, msg: r.Message, out: out, at: h.Arrived, size: len(out)})
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("read the held messages of %s from the log: %w", source, err)
	}
	res.Gone += len(held) - found
	for len(items) > 0 {
		var batch []item
		batch, items = f.nextBatch(items)
		_, refused, err := l.deliver(ctx, batch)
		if err != nil {
			return fmt.Errorf("send the held messages of %s: %w", source, err)
		}
		again := map[int64]bool{}
		for _, h := range refused {
			again[h.Seq] = true
			res.StillHeld[store.HeldRefused]++
		}
		var sent []int64
		for _, it := range batch {
			if !again[it.seq] {
				sent = append(sent, it.seq)
			}
		}
		if err := f.st.ForwardRelease(ctx, source, sent); err != nil {
			return err
		}
		res.Sent += len(sent)
		if obs := f.opts.Observe; obs != nil && len(sent) > 0 {
			obs(source, OutcomeForwarded, len(sent))
		}
	}
	return nil
}
