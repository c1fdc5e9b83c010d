package segment

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/trackplan/trackplan"
)

// FuzzDecodeBatch feeds arbitrary bodies through batch parsing and
// normalisation: it must never panic, and every item must come out either
// as a valid message or as a rejection with a reason.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"a":[1,{"b":null}]}}]}`))
	f.Add([]byte(`{"batch":[{"type":"identify","anonymousId":"a","traits":{"email":"x@y.z"},"originalTimestamp":"2026-01-01T00:00:00Z","sentAt":"2026-01-01T00:00:01Z"}]}`))
	f.Add([]byte(`{"batch":[{"type":"group","userId":1,"groupId":2}],"context":{"groupId":"g"}}`))
	f.Add([]byte(`{"batch":[{}, null, 1, "x"]}`))
	l := DefaultLimits()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseBatch(body, l)
		if err != nil {
			return
		}
		msgs, rejs := req.Messages("src", now, l)
		if len(msgs)+len(rejs) != len(req.Items) {
			t.Fatalf("%d items became %d messages and %d rejections", len(req.Items), len(msgs), len(rejs))
		}
		for _, m := range msgs {
			checkMessage(t, m)
		}
		for _, r := range rejs {
			if r.Reason == "" {
				t.Fatal("rejection without a reason")
			}
		}
	})
}

// FuzzDecodeSingle does the same for single-call and webhook bodies.
func FuzzDecodeSingle(f *testing.F) {
	f.Add([]byte(`{"userId":"u","event":"E","writeKey":"k"}`), "track")
	f.Add([]byte(`{"type":"page","anonymousId":"a","properties":{"name":"Home"}}`), "")
	f.Add([]byte(`{"userId":"u","previousId":"p"}`), "alias")
	l := DefaultLimits()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, typ string) {
		req, err := ParseSingle(body, trackplan.CallType(typ), l)
		if err != nil {
			return
		}
		msgs, rejs := req.Messages("src", now, l)
		if len(msgs)+len(rejs) != 1 {
			t.Fatalf("one body became %d messages and %d rejections", len(msgs), len(rejs))
		}
		for _, m := range msgs {
			checkMessage(t, m)
		}
	})
}

func checkMessage(t *testing.T, m *trackplan.Message) {
	t.Helper()
	if !m.Type.Valid() {
		t.Fatalf("accepted message of type %q", m.Type)
	}
	if m.UserID == "" && m.AnonymousID == "" {
		t.Fatal("accepted message without ids")
	}
	if m.Type == trackplan.Track && m.Event == "" {
		t.Fatal("accepted track without event")
	}
	if m.Timestamp.IsZero() {
		t.Fatal("accepted message without a time")
	}
	if !utf8.Valid(m.Raw) {
		t.Fatal("accepted invalid UTF-8")
	}
	// Flattening an accepted payload must terminate and not panic.
	trackplan.Flatten(m.Payload(), func(trackplan.Field) {})
}

// FuzzDecoderAgreement checks the fast decoder against encoding/json on
// message objects: both accept or both reject, and agree on the result.
func FuzzDecoderAgreement(f *testing.F) {
	f.Add([]byte(`{"type":"track","userId":7,"event":"E","properties":{"a":[1,2.5,{"b":null}],"c":"\u00e9"}}`))
	f.Add([]byte(`{"type":"identify","anonymousId":"a","traits":{"x":1e400}}`))
	f.Add([]byte(`{"type":"group","groupId":"g","userId":"u","traits":{"dup":1,"dup":2}}`))
	f.Add([]byte(`{"event":"\ud800","properties":{}} `))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fast, std wire
		errFast := gojson.Unmarshal(raw, &fast)
		errStd := json.Unmarshal(raw, &std)
		if (errFast == nil) != (errStd == nil) {
			t.Fatalf("fast decoder error %v, encoding/json error %v, for %q", errFast, errStd, raw)
		}
		if errStd == nil && !reflect.DeepEqual(fast, std) {
			t.Fatalf("decoders disagree on %q:\nfast %+v\nstd  %+v", raw, fast, std)
		}
	})
}
