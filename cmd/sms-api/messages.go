package main

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits of a send request. A message of 1600 characters is ten
// concatenated SMS parts, the usual carrier ceiling.
const (
	maxRecipients = 1000
	maxTextChars  = 1600
	maxStored     = 10000
)

// message is one accepted SMS. Nothing is sent: the example records it.
type message struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	// Account is who pays for the message: the owner oauthd names in
	// introspection, absent when the application has none.
	Account   string    `json:"account,omitempty"`
	To        []string  `json:"to"`
	Text      string    `json:"text"`
	Parts     int       `json:"parts"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// sendRequest is the body of POST /v1/sms.
type sendRequest struct {
	To   []string `json:"to"`
	Text string   `json:"text"`
}

// fieldError names the bad field and says why.
type fieldError struct{ field, reason string }

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

// validate checks a send request and returns the normalised recipients.
func (r sendRequest) validate() ([]string, error) {
	if len(r.To) == 0 {
		return nil, &fieldError{"to", "at least one recipient is required, in E.164 form such as +447700900123"}
	}
	if len(r.To) > maxRecipients {
		return nil, &fieldError{"to", fmt.Sprintf("at most %d recipients per request", maxRecipients)}
	}
	seen := make(map[string]bool, len(r.To))
	out := make([]string, 0, len(r.To))
	for i, n := range r.To {
		n = strings.TrimSpace(n)
		if !isE164(n) {
			return nil, &fieldError{fmt.Sprintf("to[%d]", i), fmt.Sprintf("%q is not an E.164 number: + then 8 to 15 digits, no spaces, e.g. +447700900123", truncate(n))}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if strings.TrimSpace(r.Text) == "" {
		return nil, &fieldError{"text", "required and not blank"}
	}
	if !utf8.ValidString(r.Text) {
		return nil, &fieldError{"text", "must be valid UTF-8"}
	}
	if n := utf8.RuneCountInString(r.Text); n > maxTextChars {
		return nil, &fieldError{"text", fmt.Sprintf("%d characters; at most %d (ten SMS parts)", n, maxTextChars)}
	}
	return out, nil
}

// isE164 accepts '+', a non-zero digit, then 7 to 14 more digits.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parts counts SMS segments: 160 characters in one GSM part, 153 per part
// once split; 70 and 67 for text outside plain ASCII (UCS-2). ASCII stands
// in for the GSM 03.38 alphabet, which is close enough for an example.
func parts(text string) int {
	single, multi := 160, 153
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			single, multi = 70, 67
			break
		}
	}
	n := utf8.RuneCountInString(text)
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

func truncate(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// outbox keeps the most recent accepted messages in memory.
type outbox struct {
	mu    sync.Mutex
	byID  map[string]message
	order []string
}

func newOutbox() *outbox { return &outbox{byID: make(map[string]message)} }

func (o *outbox) add(clientID, account string, to []string, text string, now time.Time) message {
	m := message{
		ID:        "msg_" + strings.ToLower(rand.Text()),
		ClientID:  clientID,
		Account:   account,
		To:        to,
		Text:      text,
		Parts:     parts(text),
		Status:    "accepted",
		CreatedAt: now.UTC(),
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byID[m.ID] = m
	o.order = append(o.order, m.ID)
	if len(o.order) > maxStored {
		delete(o.byID, o.order[0])
		o.order = o.order[1:]
	}
	return m
}

// get returns a message only to the application that sent it.
func (o *outbox) get(clientID, id string) (message, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.byID[id]
	if !ok || m.ClientID != clientID {
		return message{}, false
	}
	return m, true
}
