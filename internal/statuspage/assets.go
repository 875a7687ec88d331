package statuspage

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
)

// css is the page's only style sheet, inline: the page loads nothing.
// The page has no style attributes, so that the Content-Security-Policy
// can allow this sheet by its hash and nothing else.
//
//go:embed page.css
var css string

// script reloads the page as soon as observerd publishes a newer snapshot,
// when /events streams them; without it (or without JavaScript) the meta
// refresh reloads the page. It opens the stream once the page has loaded,
// so that the stream never holds the load up, and reloads at most once a
// second. An event names its snapshot by its id or by the sequence of its
// data; one that names none counts as newer unless it is the first, which
// a stream may send for the snapshot the page already shows.
//
//go:embed page.js
var script string

// contentPolicy allows the page's own style sheet and script, by their
// hashes, and a connection to its own origin for /events: nothing a peer
// managed to put into the page could run or load anything.
func contentPolicy() string {
	return "default-src 'none'; style-src " + hashSource(css) + "; script-src " + hashSource(script) +
		"; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'"
}

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
