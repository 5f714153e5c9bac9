// Package web holds the owner's web page — plain HTML, CSS and JavaScript
// with no build step — embedded into the binary. It knows nothing of Go
// beyond this file; internal/httpapi serves it.
package web

import "embed"

// Files are the page's files, served under /ui/ (index.html also at /).
//
//go:embed index.html app.js app.css cards.js wall.js account.js owner.js timeline.js events.js exports.js
var Files embed.FS
