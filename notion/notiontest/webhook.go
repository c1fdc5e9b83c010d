package notiontest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Integration webhooks, as Notion sends them:
//
//   - creating a subscription POSTs {"verification_token": "secret_…"} to
//     the endpoint, unsigned; the endpoint's owner pastes the token back
//     into Notion to verify it;
//   - every event is then a POST of a JSON event object (id, timestamp,
//     workspace_id, workspace_name, subscription_id, integration_id, type,
//     authors, attempt_number, api_version, entity, data), signed with
//     X-Notion-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed
//     by the verification token>.
//
// Shapes follow Notion's webhook reference ("Event types & delivery") and
// the BaseWebhookPayload and Page*WebhookPayload types of Notion's official
// SDK (makenotion/notion-sdk-js, src/api-endpoints/webhooks.ts, src/
// webhooks.ts for the signature). Page events carry data.parent: the
// database ({"id", "type": "database"}) and, for subscriptions of version
// 2025-09-03, its "data_source_id". Deliveries are made at once, in order,
// and not retried; DropWebhooks loses some, as Notion does not guarantee
// delivery.

// Webhook event types the fake sends.
const (
	EventPageCreated           = "page.created"
	EventPagePropertiesUpdated = "page.properties_updated"
	EventPageDeleted           = "page.deleted"
	EventPageUndeleted         = "page.undeleted"
)

// WebhookOptions configures a subscription.
type WebhookOptions struct {
	// URL receives the events.
	URL string
	// APIVersion shapes the events (default 2025-09-03).
	APIVersion string
	// Token is the verification token (default: a random secret_…).
	Token string
}

// Delivery is one POST the fake made to the subscription's URL.
type Delivery struct {
	Type   string // the event type; "" for the verification request
	Entity string // the page id
	Status int    // the answer's status; 0 when none arrived
	Lost   bool   // dropped by DropWebhooks: never sent
}

type webhook struct {
	opts   WebhookOptions
	subID  string
	client *http.Client

	mu         sync.Mutex
	queue      [][]byte
	types      []Delivery
	drop       int
	deliveries []Delivery
	wake       chan struct{}
	done       chan struct{}
	wg         sync.WaitGroup
}

// Subscribe creates a webhook subscription to opts.URL: it POSTs the
// verification request and returns the token it carried and the status
// the endpoint answered. From then on every page created, edited, trashed
// or restored (through the API or the helpers) is sent as an event.
func (s *Server) Subscribe(opts WebhookOptions) (token string, status int, err error) {
	if opts.APIVersion == "" {
		opts.APIVersion = Version20250903
	}
	if opts.Token == "" {
		b := make([]byte, 24)
		rand.Read(b)
		opts.Token = "secret_" + hex.EncodeToString(b)
	}
	h := &webhook{opts: opts, client: &http.Client{Timeout: 10 * time.Second},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.mu.Lock()
	h.subID = s.newID(0x5b)
	old := s.hook
	s.hook = h
	s.mu.Unlock()
	if old != nil {
		old.stop()
	}
	body, _ := json.Marshal(map[string]string{"verification_token": opts.Token})
	status, err = h.post(body, false)
	h.record(Delivery{Status: status})
	h.wg.Add(1)
	go h.loop()
	return opts.Token, status, err
}

// DropWebhooks loses the next n events emitted: they are never delivered.
func (s *Server) DropWebhooks(n int) {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h != nil {
		h.mu.Lock()
		h.drop += n
		h.mu.Unlock()
	}
}

// Deliveries returns what the subscription sent so far, the verification
// request first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.deliveries...)
}

// Sign returns the X-Notion-Signature of body under token.
func Sign(token string, body []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// propIDs returns the ids of the columns of db named (by name or id) in
// props, for page.properties_updated.
func propIDs(db *database, props map[string]any) []string {
	ids := []string{}
	for k := range props {
		if c := db.col(k); c != nil {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// emit queues an event about page p; the server's lock is held.
func (s *Server) emit(typ string, p *page, props []string) {
	h := s.hook
	if h == nil {
		return
	}
	author := map[string]any{"id": botUser, "type": "bot"}
	if s.person { // a helper: a person edited Notion
		author = map[string]any{"id": "00000000-0000-4000-8000-0000000000c0", "type": "person"}
	}
	parent := map[string]any{"id": p.db.ctr.id, "type": "database"}
	if h.opts.APIVersion >= Version20250903 {
		parent["data_source_id"] = p.db.id
	}
	data := map[string]any{"parent": parent}
	if typ == EventPagePropertiesUpdated {
		data["updated_properties"] = props
	}
	ev := map[string]any{
		"id":              s.newID(0xe7),
		"timestamp":       s.now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"workspace_id":    "00000000-0000-4000-8000-0000000000ee",
		"workspace_name":  "notiontest",
		"subscription_id": h.subID,
		"integration_id":  "00000000-0000-4000-8000-0000000000ab",
		"type":            typ,
		"authors":         []any{author},
		"attempt_number":  1,
		"api_version":     h.opts.APIVersion,
		"entity":          map[string]any{"id": p.id, "type": "page"},
		"data":            data,
	}
	body, err := json.Marshal(ev)
	if err != nil {
		panic(fmt.Sprintf("notiontest: encode webhook event: %v", err))
	}
	h.mu.Lock()
	d := Delivery{Type: typ, Entity: p.id}
	if h.drop > 0 {
		h.drop--
		d.Lost = true
	}
	h.queue = append(h.queue, body)
	h.types = append(h.types, d)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *webhook) loop() {
	defer h.wg.Done()
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			h.mu.Unlock()
			select {
			case <-h.wake:
				continue
			case <-h.done:
				return
			}
		}
		body, d := h.queue[0], h.types[0]
		h.queue, h.types = h.queue[1:], h.types[1:]
		h.mu.Unlock()
		if !d.Lost {
			d.Status, _ = h.post(body, true)
		}
		h.record(d)
	}
}

func (h *webhook) record(d Delivery) {
	h.mu.Lock()
	h.deliveries = append(h.deliveries, d)
	h.mu.Unlock()
}

func (h *webhook) post(body []byte, sign bool) (int, error) {
	req, err := http.NewRequest(http.MethodPost, h.opts.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "notion-api")
	if sign {
		req.Header.Set("X-Notion-Signature", Sign(h.opts.Token, body))
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (h *webhook) stop() {
	close(h.done)
	h.wg.Wait()
}
