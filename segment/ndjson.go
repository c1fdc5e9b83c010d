package segment

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/trackplan/trackplan"
)

// ReasonMalformedLine is the rejection reason of an NDJSON line that is not
// a JSON object (or is over the request limit).
const ReasonMalformedLine = "malformed_line"

// NDJSON reads newline-delimited Segment messages — one message or one batch
// envelope per line, as Segment's archives and exports hold them — and hands
// them on in chunks. Gzipped input is detected by its magic bytes. Bad lines
// become rejections (with the line number in the sample); none is dropped
// silently.
type NDJSON struct {
	Source string
	Limits Limits
	Now    func() time.Time
	// Chunk is how many messages are handed on at once (default 5,000).
	Chunk int
	// Workers parse lines in parallel when above 1; chunks are still handed
	// on in the file's order.
	Workers int
}

// Read reads r to the end, calling fn with each chunk of accepted messages
// and rejections. It returns the number of lines read.
func (n *NDJSON) Read(r io.Reader, fn func(msgs []*trackplan.Message, rejs []trackplan.Rejection) error) (int, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("open gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	l := n.Limits
	if l.MaxRequestBytes == 0 {
		l = DefaultLimits()
	}
	chunk := n.Chunk
	if chunk <= 0 {
		chunk = 5000
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	var (
		msgs  []*trackplan.Message
		rejs  []trackplan.Rejection
		lines int
	)
	flush := func() error {
		if len(msgs) == 0 && len(rejs) == 0 {
			return nil
		}
		err := fn(msgs, rejs)
		msgs, rejs = nil, nil
		return err
	}
	if n.Workers > 1 {
		return n.readParallel(br, l, now, flush, func(got []*trackplan.Message, bad []trackplan.Rejection) error {
			msgs = append(msgs, got...)
			rejs = append(rejs, bad...)
			if len(msgs)+len(rejs) >= chunk {
				return flush()
			}
			return nil
		})
	}
	for {
		line, err := readLine(br, l.MaxRequestBytes)
		if err == nil || len(line) > 0 || err == errLineTooLong {
			lines++ // every physical line counts, blank ones too, so samples name the right line
			got, bad := n.parseLine(line, err, lines, now().UTC(), l)
			msgs = append(msgs, got...)
			rejs = append(rejs, bad...)
			if len(msgs)+len(rejs) >= chunk {
				if ferr := flush(); ferr != nil {
					return lines, ferr
				}
			}
		}
		if err == io.EOF {
			return lines, flush()
		}
		if err != nil && err != errLineTooLong {
			return lines, fmt.Errorf("read line %d: %w", lines+1, err)
		}
	}
}

func (n *NDJSON) parseLine(line []byte, readErr error, num int, now time.Time, l Limits) ([]*trackplan.Message, []trackplan.Rejection) {
	reject := func(why string) []trackplan.Rejection {
		shown := trackplan.RejectionSample(line)
		if bytes.Contains(line, []byte(`"writeKey"`)) {
			shown = []byte("(contains a write key; not kept)")
		}
		return []trackplan.Rejection{{Source: n.Source, Reason: ReasonMalformedLine,
			Sample: fmt.Appendf(nil, "line %d: %s: %s", num, why, shown), ReceivedAt: now}}
	}
	if readErr == errLineTooLong {
		return nil, reject(fmt.Sprintf("longer than %d bytes", l.MaxRequestBytes))
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, nil
	}
	var (
		req *Request
		err error
	)
	if isBatchLine(line) {
		req, err = ParseBatch(line, l)
	} else {
		req, err = ParseSingle(line, "", l)
	}
	if err != nil {
		return nil, reject(err.Error())
	}
	req.KeepReceivedAt = true
	return req.Messages(n.Source, now, l)
}

// lineRun is a run of consecutive lines, parsed by one worker.
type lineRun struct {
	first int // the number of its first line
	lines [][]byte
	errs  []error // errLineTooLong where a line was over the limit
	out   chan parsedRun
}

type parsedRun struct {
	msgs []*trackplan.Message
	rejs []trackplan.Rejection
}

// readParallel reads lines in runs that n.Workers goroutines parse; add
// gets each run's messages and rejections in the file's order.
func (n *NDJSON) readParallel(br *bufio.Reader, l Limits, now func() time.Time, flush func() error,
	add func([]*trackplan.Message, []trackplan.Rejection) error) (int, error) {
	const runLines = 512
	jobs := make(chan *lineRun, n.Workers*2)
	order := make(chan *lineRun, n.Workers*4)
	for range n.Workers {
		go func() {
			for run := range jobs {
				var p parsedRun
				at := now().UTC()
				for i, line := range run.lines {
					got, bad := n.parseLine(line, run.errs[i], run.first+i, at, l)
					p.msgs = append(p.msgs, got...)
					p.rejs = append(p.rejs, bad...)
				}
				run.out <- p
			}
		}()
	}
	var (
		lines   int
		readErr error
		stop    = make(chan struct{})
	)
	go func() {
		defer close(order)
		defer close(jobs)
		run := &lineRun{first: 1}
		send := func() bool {
			run.out = make(chan parsedRun, 1)
			select {
			case jobs <- run:
			case <-stop:
				return false
			}
			select {
			case order <- run:
			case <-stop:
				return false
			}
			run = &lineRun{first: lines + 1}
			return true
		}
		for {
			line, err := readLine(br, l.MaxRequestBytes)
			if err == nil || len(line) > 0 || err == errLineTooLong {
				lines++
				var lerr error
				if err == errLineTooLong {
					lerr = err
				}
				run.lines = append(run.lines, line)
				run.errs = append(run.errs, lerr)
				if len(run.lines) == runLines && !send() {
					return
				}
			}
			if err == io.EOF {
				if len(run.lines) > 0 {
					send()
				}
				return
			}
			if err != nil && err != errLineTooLong {
				readErr = fmt.Errorf("read line %d: %w", lines+1, err)
				if len(run.lines) > 0 {
					send()
				}
				return
			}
		}
	}()
	var addErr error
	for run := range order {
		p := <-run.out
		if addErr == nil {
			if addErr = add(p.msgs, p.rejs); addErr != nil {
				close(stop)
			}
		}
	}
	if addErr != nil {
		return lines, addErr
	}
	if readErr != nil {
		return lines, readErr
	}
	return lines, flush()
}

// isBatchLine reports whether a line is a batch envelope rather than one
// message, by the presence of a top-level "batch" key.
func isBatchLine(line []byte) bool {
	if !bytes.Contains(line, []byte(`"batch"`)) {
		return false
	}
	var probe struct {
		Batch json.RawMessage `json:"batch"`
	}
	// Only the key's presence matters; decoding errors surface later.
	_ = json.Unmarshal(line, &probe)
	return probe.Batch != nil
}

var errLineTooLong = fmt.Errorf("line too long")

// readLine reads one line without its newline; a line longer than max is
// skipped to its end and reported as errLineTooLong.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max+1 {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF || err == nil {
				return nil, errLineTooLong
			}
			return nil, err
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}
