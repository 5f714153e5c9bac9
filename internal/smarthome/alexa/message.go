package alexa

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// The envelope of Alexa.Smart Home messages, payload version 3: a
// directive in, an event (with context properties) out.

type header struct {
	Namespace        string `json:"namespace"`
	Name             string `json:"name"`
	PayloadVersion   string `json:"payloadVersion"`
	MessageID        string `json:"messageId"`
	CorrelationToken string `json:"correlationToken,omitempty"`
}

type scope struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

type endpoint struct {
	Scope      *scope            `json:"scope,omitempty"`
	EndpointID string            `json:"endpointId"`
	Cookie     map[string]string `json:"cookie,omitempty"`
}

type directive struct {
	Header   header          `json:"header"`
	Endpoint *endpoint       `json:"endpoint"`
	Payload  json.RawMessage `json:"payload"`
}

type request struct {
	Directive *directive `json:"directive"`
}

// key is the directive's handler name, namespace/name.
func (d *directive) key() string { return d.Header.Namespace + "/" + d.Header.Name }

type event struct {
	Header   header    `json:"header"`
	Endpoint *endpoint `json:"endpoint,omitempty"`
	Payload  any       `json:"payload"`
}

type property struct {
	Namespace                 string `json:"namespace"`
	Name                      string `json:"name"`
	Value                     any    `json:"value"`
	TimeOfSample              string `json:"timeOfSample"`
	UncertaintyInMilliseconds int    `json:"uncertaintyInMilliseconds"`
}

type eventContext struct {
	Properties []property `json:"properties"`
}

type response struct {
	Event   event         `json:"event"`
	Context *eventContext `json:"context,omitempty"`
}

// reply is the event answering d: a fresh messageId, d's correlation
// token, and d's endpoint (its id only: the token is not sent back).
func reply(d *directive, namespace, name string, payload any) *response {
	ev := event{Header: header{Namespace: namespace, Name: name, PayloadVersion: "3", MessageID: newMessageID(),
		CorrelationToken: d.Header.CorrelationToken}, Payload: payload}
	if d.Endpoint != nil && d.Endpoint.EndpointID != "" {
		ev.Endpoint = &endpoint{EndpointID: d.Endpoint.EndpointID}
	}
	return &response{Event: ev}
}

// newMessageID is a random (version 4) UUID.
func newMessageID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// connectivity is Alexa.EndpointHealth's connectivity property.
func connectivity(online bool, at time.Time) property {
	v := "UNREACHABLE"
	if online {
		v = "OK"
	}
	return property{Namespace: "Alexa.EndpointHealth", Name: "connectivity", Value: map[string]string{"value": v},
		TimeOfSample: at.UTC().Format(time.RFC3339Nano)}
}
