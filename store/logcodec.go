package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/klauspost/compress/zstd"

	"github.com/trackplan/trackplan"
)

// Record is one entry of the log: an accepted message or a rejection.
type Record struct {
	Seq       int64
	Message   *trackplan.Message   // nil for a rejection
	Rejection *trackplan.Rejection // nil for a message
}

// The block format: zstd (one frame, with its content checksum) over
// newline-separated JSON records, one per message or rejection. A record's
// sequence number is its block's first plus its position, so records are
// encoded before their numbers are known (outside the append transaction);
// an erased record leaves a tombstone that keeps the positions. JSON keeps
// the log readable with standard tools and decodes fast; compressing a whole
// block lets zstd share the field names, ids and values messages repeat.
type wireRecord struct {
	wireHeader
	Properties map[string]any `json:"pr,omitempty"`
	Traits     map[string]any `json:"tr,omitempty"`
	Sample     []byte         `json:"smp,omitempty"` // a rejection's sample: any bytes
}

// wireHeader is a record without its properties, traits and sample: what
// DecodeMessages decodes, skipping the rest instead of building it.
type wireHeader struct {
	Erased      bool            `json:"x,omitempty"`
	Rejected    string          `json:"rej,omitempty"` // the rejection reason
	Source      string          `json:"s,omitempty"`
	Type        string          `json:"t,omitempty"`
	MessageID   string          `json:"id,omitempty"`
	UserID      string          `json:"u,omitempty"`
	AnonymousID string          `json:"a,omitempty"`
	GroupID     string          `json:"g,omitempty"`
	Event       string          `json:"e,omitempty"`
	Name        string          `json:"n,omitempty"`
	PreviousID  string          `json:"p,omitempty"`
	Timestamp   int64           `json:"ts,omitempty"` // µs since the epoch, UTC
	ReceivedAt  int64           `json:"rt,omitempty"`
	Raw         json.RawMessage `json:"raw,omitempty"`
	Clamped     bool            `json:"cl,omitempty"` // the client's timestamp was replaced
	ClientIP    string          `json:"ip,omitempty"`
	UserAgent   string          `json:"ua,omitempty"`
	Defaults    json.RawMessage `json:"bd,omitempty"` // the batch's context and integrations
}

// message is the header's message, without properties and traits.
func (w *wireHeader) message() *trackplan.Message {
	return &trackplan.Message{
		Source: w.Source, Type: trackplan.CallType(w.Type), MessageID: w.MessageID, UserID: w.UserID,
		AnonymousID: w.AnonymousID, GroupID: w.GroupID, Event: w.Event, Name: w.Name, PreviousID: w.PreviousID,
		Timestamp: time.UnixMicro(w.Timestamp).UTC(), ReceivedAt: time.UnixMicro(w.ReceivedAt).UTC(),
		Raw: []byte(w.Raw), TimestampClamped: w.Clamped, ClientIP: w.ClientIP, UserAgent: w.UserAgent,
		BatchDefaults: []byte(w.Defaults),
	}
}

var tombstone = []byte("{\"x\":true}\n")

// codec holds the zstd encoder and decoder; both are safe for concurrent
// use and expensive to create, so one pair serves the process.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

var theCodec = sync.OnceValue(func() *codec {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderCRC(true),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder: %v", err)) // only on invalid options
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err))
	}
	return &codec{enc: enc, dec: dec}
})

// EncodeMessage encodes a message as one record line of a block.
func EncodeMessage(m *trackplan.Message) ([]byte, error) {
	line, err := gojson.MarshalNoEscape(&wireRecord{wireHeader: wireHeader{
		Source: m.Source, Type: string(m.Type), MessageID: m.MessageID, UserID: m.UserID,
		AnonymousID: m.AnonymousID, GroupID: m.GroupID, Event: m.Event, Name: m.Name, PreviousID: m.PreviousID,
		Timestamp: m.Timestamp.UnixMicro(), ReceivedAt: m.ReceivedAt.UnixMicro(),
		Raw: validRaw(m.Raw), Clamped: m.TimestampClamped,
		ClientIP: m.ClientIP, UserAgent: m.UserAgent, Defaults: validRaw(m.BatchDefaults),
	}, Properties: m.Properties, Traits: m.Traits})
	if err != nil {
		return nil, fmt.Errorf("encode log record of message %q: %w", m.MessageID, err)
	}
	return append(line, '\n'), nil
}

// EncodeRejection encodes a rejection as one record line of a block.
func EncodeRejection(r *trackplan.Rejection) ([]byte, error) {
	line, err := gojson.MarshalNoEscape(&wireRecord{wireHeader: wireHeader{Rejected: r.Reason, Source: r.Source,
		ReceivedAt: r.ReceivedAt.UnixMicro()}, Sample: r.Sample})
	if err != nil {
		return nil, fmt.Errorf("encode log record of a rejection: %w", err)
	}
	return append(line, '\n'), nil
}

// validRaw keeps a message's raw JSON when it is valid JSON (it always is
// from the collector) and drops it otherwise, so a block always parses.
func validRaw(raw []byte) json.RawMessage {
	if len(raw) == 0 || !json.Valid(raw) {
		return nil
	}
	return raw
}

// CompressBlock compresses record lines into a block's data.
func CompressBlock(lines [][]byte) []byte {
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	plain := make([]byte, 0, n)
	for _, l := range lines {
		plain = append(plain, l...)
	}
	return theCodec().enc.EncodeAll(plain, make([]byte, 0, n/4+64))
}

// DecodeBlock decodes a block's records, in order, skipping erased ones. A
// block that does not decompress or parse yields a *CorruptBlockError
// naming its sequence range.
func DecodeBlock(b LogBlock) ([]Record, error) {
	recs := make([]Record, 0, b.Count)
	err := eachLine(b, func(seq int64, line []byte) error {
		var w wireRecord
		if err := gojson.Unmarshal(line, &w); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if !w.Erased {
			recs = append(recs, fromWire(seq, &w))
		}
		return nil
	})
	return recs, err
}

// DecodeMessages decodes the messages of one source in a block, in order,
// skipping rejections, erased records and other sources' messages. Without
// payload, their Properties and Traits are left nil (Raw holds them): a
// reader that sends messages on as they came need not build them.
func DecodeMessages(b LogBlock, source string, payload bool) ([]Record, error) {
	if payload {
		recs, err := DecodeBlock(b)
		out := recs[:0]
		for _, r := range recs {
			if r.Message != nil && r.Message.Source == source {
				out = append(out, r)
			}
		}
		return out, err
	}
	var recs []Record
	err := eachLine(b, func(seq int64, line []byte) error {
		var w wireHeader
		if err := gojson.Unmarshal(line, &w); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if w.Erased || w.Rejected != "" || w.Source != source {
			return nil
		}
		recs = append(recs, Record{Seq: seq, Message: w.message()})
		return nil
	})
	return recs, err
}

// EraseRecords rewrites a block without the records match selects: they
// become tombstones. It reports the block's new data, how many live records
// remain, and whether anything was erased.
func EraseRecords(b LogBlock, match func(*Record) bool) (data []byte, remaining int, changed bool, err error) {
	var lines [][]byte
	err = eachLine(b, func(seq int64, line []byte) error {
		var w wireRecord
		if err := gojson.Unmarshal(line, &w); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if w.Erased {
			lines = append(lines, tombstone)
			return nil
		}
		r := fromWire(seq, &w)
		if match(&r) {
			changed = true
			lines = append(lines, tombstone)
			return nil
		}
		remaining++
		lines = append(lines, append([]byte(nil), line...), []byte{'\n'})
		return nil
	})
	if err != nil || !changed {
		return nil, remaining, false, err
	}
	if remaining == 0 {
		return nil, 0, true, nil
	}
	return CompressBlock(lines), remaining, true, nil
}

func eachLine(b LogBlock, fn func(seq int64, line []byte) error) error {
	plain, err := theCodec().dec.DecodeAll(b.Data, nil)
	if err != nil {
		return &CorruptBlockError{First: b.First, Last: b.Last, Err: err}
	}
	seq := b.First
	for len(plain) > 0 {
		line := plain
		if i := bytes.IndexByte(plain, '\n'); i >= 0 {
			line, plain = plain[:i], plain[i+1:]
		} else {
			plain = nil
		}
		if err := fn(seq, line); err != nil {
			return &CorruptBlockError{First: b.First, Last: b.Last, Err: err}
		}
		seq++
	}
	if seq-1 != b.Last {
		return &CorruptBlockError{First: b.First, Last: b.Last, Err: fmt.Errorf("holds records %d-%d", b.First, seq-1)}
	}
	return nil
}

func fromWire(seq int64, w *wireRecord) Record {
	if w.Rejected != "" {
		return Record{Seq: seq, Rejection: &trackplan.Rejection{Source: w.Source, Reason: w.Rejected,
			Sample: w.Sample, ReceivedAt: time.UnixMicro(w.ReceivedAt).UTC()}}
	}
	m := w.message()
	m.Properties, m.Traits = w.Properties, w.Traits
	return Record{Seq: seq, Message: m}
}

// Mentions reports whether a record concerns one of the given users or
// accounts (for erasure): a message by its id fields, a rejection (which
// has none that can be trusted) when its sample holds one of needles as a
// whole JSON string value.
func (r *Record) Mentions(userIDs, groupIDs map[string]bool, needles []string) bool {
	if m := r.Message; m != nil {
		return userIDs[m.UserID] || userIDs[m.AnonymousID] || userIDs[m.PreviousID] || groupIDs[m.GroupID]
	}
	for _, n := range needles {
		if bytes.Contains(r.Rejection.Sample, JSONString(n)) {
			return true
		}
	}
	return false
}

// JSONString is s encoded as a JSON string, quotes included: what erasure
// searches JSON text for, so that a needle matches a whole value and not
// part of another ("42" does not match 4242).
func JSONString(s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// Add appends decoded log records to a batch to apply: rejections as they
// are, messages with the violations check finds (none when check is nil).
func (b *Batch) Add(recs []Record, check func(*trackplan.Message) []trackplan.Violation) {
	for _, r := range recs {
		if r.Rejection != nil {
			b.Rejections = append(b.Rejections, *r.Rejection)
			continue
		}
		c := Checked{Message: r.Message}
		if check != nil {
			c.Violations = check(r.Message)
		}
		b.Messages = append(b.Messages, c)
	}
}
