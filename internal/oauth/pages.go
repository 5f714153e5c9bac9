package oauth

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
)

// The sign-in, consent and error pages: server-rendered, no script at
// all, one stylesheet inlined and allowed by its hash.
var (
	//go:embed templates/pages.html
	pagesHTML string
	//go:embed templates/pages.css
	pagesCSS string
)

type pages struct {
	tmpl *template.Template
	// styleSrc is the CSP source that allows the inlined stylesheet.
	styleSrc string
}

func newPages() (*pages, error) {
	t, err := template.New("pages").Parse(pagesHTML)
	if err != nil {
		return nil, fmt.Errorf("oauth pages: %w", err)
	}
	sum := sha256.Sum256([]byte(pagesCSS))
	return &pages{tmpl: t, styleSrc: "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"}, nil
}

// pageData is what the templates show. Everything but CSS is escaped.
type pageData struct {
	Title   string
	Client  string // the service's name
	User    string
	Message string
	CSRF    string
	Action  string // where the form posts: this endpoint, same query
	Cameras []Camera
	CSS     template.CSS
}

// render writes one page. formTarget is the origin the page's form may
// lead to besides this one (the client's redirect URI: the consent's
// answer is a redirect there, which CSP's form-action also governs).
func (p *pages) render(w http.ResponseWriter, status int, name string, d pageData, formTarget string) {
	d.CSS = template.CSS(pagesCSS)
	var b bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src "+p.styleSrc+"; form-action 'self' "+formTarget+
		"; frame-ancestors 'none'; base-uri 'none'")
	// Consent must never be framed (clickjacking), sniffed or leak its
	// query (state, code_challenge) through Referer.
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
