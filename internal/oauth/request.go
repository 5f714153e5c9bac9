package oauth

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"time"

	"github.com/ory/fosite"

	"vigil/internal/access"
)

// session is what fosite carries between the authorize, token and
// resource steps: who consented, to which link, and when each token
// expires. It holds no secret, so it is stored as it is.
type session struct {
	User access.UserID `json:"user"`
	Link string        `json:"link"`
	// Expires is when each kind of token issued under it expires.
	Expires map[fosite.TokenType]time.Time `json:"expires,omitempty"`
}

var _ fosite.Session = (*session)(nil)

func (s *session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.Expires == nil {
		s.Expires = map[fosite.TokenType]time.Time{}
	}
	s.Expires[key] = exp
}

func (s *session) GetExpiresAt(key fosite.TokenType) time.Time { return s.Expires[key] }

// GetUsername and GetSubject are only used by token introspection, which
// Vigil does not offer; the user id is what there is to say.
func (s *session) GetUsername() string { return string(s.User) }
func (s *session) GetSubject() string  { return string(s.User) }

func (s *session) Clone() fosite.Session {
	c := *s
	c.Expires = maps.Clone(s.Expires)
	return &c
}

// storedRequest is a fosite request as it is kept in the store, so that
// codes and tokens work across restarts. The client is kept by id and
// looked up in the configuration again on load: removing a client from
// the configuration ends its tokens.
type storedRequest struct {
	ID                string     `json:"id"`
	RequestedAt       time.Time  `json:"requested_at"`
	Client            string     `json:"client"`
	RequestedScope    []string   `json:"requested_scope,omitempty"`
	GrantedScope      []string   `json:"granted_scope,omitempty"`
	RequestedAudience []string   `json:"requested_audience,omitempty"`
	GrantedAudience   []string   `json:"granted_audience,omitempty"`
	Form              url.Values `json:"form,omitempty"`
	Session           *session   `json:"session"`
}

// keptForm are the request form values the handlers read back from a
// stored request: the redirect URI the code exchange must repeat (RFC 6749
// §4.1.3) and the PKCE challenge (RFC 7636 §4.6). Everything else — above
// all codes, tokens, verifiers and client secrets — is dropped, whatever
// fosite's sanitizing let through.
var keptForm = []string{"redirect_uri", "code_challenge", "code_challenge_method", "response_type", "client_id", "grant_type", "scope"}

// marshalRequest serializes what fosite needs of r.
func marshalRequest(r fosite.Requester) ([]byte, error) {
	s, ok := r.GetSession().(*session)
	if !ok {
		return nil, fmt.Errorf("store request: session is %T, want *oauth.session", r.GetSession())
	}
	form := url.Values{}
	for _, k := range keptForm {
		if v, ok := r.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	return json.Marshal(storedRequest{
		ID: r.GetID(), RequestedAt: r.GetRequestedAt(), Client: r.GetClient().GetID(),
		RequestedScope: r.GetRequestedScopes(), GrantedScope: r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(), GrantedAudience: r.GetGrantedAudience(),
		Form: form, Session: s,
	})
}

// unmarshalRequest rebuilds a stored request; client looks its client up.
// The stored session is decoded into into when it is one of ours, as
// fosite's handlers expect ("hydrating" the session they pass): the code
// exchange checks the code's expiry on the session it passed. Decoding
// merges, so expiries already set on into (the new access and refresh
// tokens') stay.
func unmarshalRequest(data []byte, client func(id string) (fosite.Client, error), into fosite.Session) (*fosite.Request, error) {
	var sr storedRequest
	if s, ok := into.(*session); ok && s != nil {
		sr.Session = s
	}
	if err := json.Unmarshal(data, &sr); err != nil {
		return nil, fmt.Errorf("load request: %w", err)
	}
	if sr.Session == nil || sr.ID == "" {
		return nil, fmt.Errorf("load request: no id or session")
	}
	c, err := client(sr.Client)
	if err != nil {
		return nil, fmt.Errorf("load request %s: %w", sr.ID, err)
	}
	if sr.Form == nil {
		sr.Form = url.Values{}
	}
	return &fosite.Request{
		ID: sr.ID, RequestedAt: sr.RequestedAt, Client: c,
		RequestedScope: sr.RequestedScope, GrantedScope: sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience, GrantedAudience: sr.GrantedAudience,
		Form: sr.Form, Session: sr.Session,
	}, nil
}
