package alexa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// refreshAhead is how long before expiry an event token is refreshed.
const refreshAhead = 5 * time.Minute

// ErrGrantRevoked: Login with Amazon answered invalid_grant to a refresh —
// the person disabled the skill, and the link should end.
var ErrGrantRevoked = errors.New("alexa: the event grant was revoked (skill disabled)")

// EventGrant is a link's Login with Amazon tokens for the event gateway.
// They are secrets: never logged, stored sealed.
type EventGrant struct {
	Access, Refresh string
	Expires         time.Time
	// Region is the skill region the link's events go to: NA, EU or FE
	// ("" for NA).
	Region string
	// Relink is when the gateway refused the token even after a refresh
	// (zero: it has not); a new AcceptGrant clears it.
	Relink time.Time
}

// Regions of the event gateway, as the skill's Lambda names them in
// RegionHeader (from the AWS region it runs in).
const (
	RegionNA = "NA" // North America (us-east-1)
	RegionEU = "EU" // Europe and India (eu-west-1)
	RegionFE = "FE" // Far East (us-west-2)
)

// RegionHeader carries the Lambda's skill region with each directive.
const RegionHeader = "X-Vigil-Alexa-Region"

// GrantStore keeps event grants, sealed at rest.
type GrantStore interface {
	PutEventGrant(ctx context.Context, link string, g EventGrant) error
	// EventGrant returns the link's grant, or an error wrapping ErrNoGrant.
	EventGrant(ctx context.Context, link string) (EventGrant, error)
}

// Credentials are a skill's "Send Alexa Events" client id and secret.
type Credentials struct{ ID, Secret string }

// Grants exchanges AcceptGrant's codes at Login with Amazon and keeps
// every link's event token fresh: refreshed refreshAhead before expiry,
// one refresh at a time per link.
type Grants struct {
	// TokenURL is LWA's token endpoint (https://api.amazon.com/auth/o2/token).
	TokenURL string
	// Credentials returns the events credentials of a skill by its OAuth
	// client id; false when it has none.
	Credentials func(client string) (Credentials, bool)
	Store       GrantStore
	// Client defaults to one with a 4-second timeout (AcceptGrant's reply
	// budget).
	Client *http.Client
	// Now defaults to time.Now.
	Now func() time.Time

	seed  maphash.Seed
	once  sync.Once
	locks [64]sync.Mutex // a link's refreshes hold locks[hash(link) % 64]
}

type lwaToken struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// Accept exchanges AcceptGrant's code for the link's event tokens and
// stores them with the region the link's events go to.
func (g *Grants) Accept(ctx context.Context, link Link, code, region string) error {
	return g.fetch(ctx, link, region, url.Values{"grant_type": {"authorization_code"}, "code": {code}})
}

// Token returns the link's event access token and region, refreshing the
// token first when it expires within refreshAhead. ErrGrantRevoked means
// the link should end; ErrNoGrant that AcceptGrant never succeeded.
func (g *Grants) Token(ctx context.Context, link Link) (token, region string, err error) {
	mu := g.lock(link.ID)
	mu.Lock()
	defer mu.Unlock()
	cur, err := g.Store.EventGrant(ctx, link.ID)
	if err != nil {
		return "", "", err
	}
	if g.now().Add(refreshAhead).Before(cur.Expires) {
		return cur.Access, cur.Region, nil
	}
	if err := g.fetch(ctx, link, cur.Region, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cur.Refresh}}); err != nil {
		return "", "", err
	}
	cur, err = g.Store.EventGrant(ctx, link.ID)
	return cur.Access, cur.Region, err
}

// Expire makes the link's next Token refresh first (the gateway refused
// the token it has).
func (g *Grants) Expire(ctx context.Context, link Link) error {
	return g.change(ctx, link, func(cur *EventGrant) { cur.Expires = time.Time{} })
}

// MarkRelink notes that the gateway refused the link's token even after a
// refresh: nothing is sent for the link until a new AcceptGrant.
func (g *Grants) MarkRelink(ctx context.Context, link Link) error {
	return g.change(ctx, link, func(cur *EventGrant) { cur.Relink = g.now() })
}

func (g *Grants) change(ctx context.Context, link Link, f func(*EventGrant)) error {
	mu := g.lock(link.ID)
	mu.Lock()
	defer mu.Unlock()
	cur, err := g.Store.EventGrant(ctx, link.ID)
	if err != nil {
		return err
	}
	f(&cur)
	return g.Store.PutEventGrant(ctx, link.ID, cur)
}

func (g *Grants) lock(link string) *sync.Mutex {
	g.once.Do(func() { g.seed = maphash.MakeSeed() })
	return &g.locks[maphash.String(g.seed, link)%uint64(len(g.locks))]
}

func (g *Grants) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// fetch posts one token request for link and stores the tokens it gets.
func (g *Grants) fetch(ctx context.Context, link Link, region string, form url.Values) error {
	creds, ok := g.Credentials(link.Client)
	if !ok {
		return fmt.Errorf("alexa client %s has no events_client_id and events_client_secret", link.Client)
	}
	form.Set("client_id", creds.ID)
	form.Set("client_secret", creds.Secret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := g.Client
	if client == nil {
		client = &http.Client{Timeout: 4 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("login with amazon: %w", err)
	}
	defer res.Body.Close()
	var tok lwaToken
	if err := json.NewDecoder(http.MaxBytesReader(nil, res.Body, 64<<10)).Decode(&tok); err != nil {
		return fmt.Errorf("login with amazon: %s: not a token response", res.Status)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = form.Get("refresh_token") // a refresh may keep the old one
	}
	switch {
	case tok.Error == "invalid_grant" && form.Get("grant_type") == "refresh_token":
		return ErrGrantRevoked
	case res.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken == "":
		return fmt.Errorf("login with amazon: %s %s", res.Status, tok.Error)
	}
	expires := g.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	return g.Store.PutEventGrant(ctx, link.ID, EventGrant{Access: tok.AccessToken, Refresh: tok.RefreshToken,
		Expires: expires, Region: region})
}

// acceptGrant exchanges the directive's code for the link's event tokens
// within the reply budget.
func (x *Directives) acceptGrant(ctx context.Context, c *call) (*response, error) {
	var p struct {
		Grant struct {
			Type string `json:"type"`
			Code string `json:"code"`
		} `json:"grant"`
	}
	if err := json.Unmarshal(c.d.Payload, &p); err != nil || p.Grant.Code == "" {
		return nil, fail(errInvalidDirective, "payload.grant.code is required", err)
	}
	if x.Grants == nil {
		return nil, fail(errAcceptGrantFailed, "Alexa events are not configured on this server", nil)
	}
	region := c.r.Header.Get(RegionHeader)
	if region != RegionEU && region != RegionFE {
		region = RegionNA
	}
	if err := x.Grants.Accept(ctx, c.link, p.Grant.Code, region); err != nil {
		return nil, fail(errAcceptGrantFailed, "the grant code could not be exchanged", err)
	}
	if x.Relinked != nil {
		if err := x.Relinked(ctx, c.link); err != nil {
			x.Logger.Warn("alexa links: ending the links this one replaces failed", "link", c.link.ID, "error", err)
		}
	}
	return reply(c.d, "Alexa.Authorization", "AcceptGrant.Response", struct{}{}), nil
}
