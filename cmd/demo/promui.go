package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// violationQuery is the expression the printed Prometheus graph link shows:
// the violations observerd exports.
const violationQuery = "observerd_invariant_violation > 0"

// promProbeTimeout bounds the questions asked of Prometheus about its UI.
const promProbeTimeout = 10 * time.Second

// promUI is where one kind of Prometheus web UI serves its pages: the
// query page, the alerts and the targets, all under prefix.
type promUI struct {
	name   string
	prefix string
	graph  string // path of the query page; it takes g0.expr
	tab    string // g0.tab of the query page showing a table
}

// promLinks are the Prometheus pages the demo prints.
type promLinks struct {
	version string // from /api/v1/status/buildinfo; "" when unknown
	graph   string // the query page with violationQuery, or the base URL
	alerts  string // "" when no page answered
	targets string
}

// promUIs are the web UIs a Prometheus of that version may serve, the
// likeliest first. Debian's builds (version "+ds") have no React UI and
// serve only the classic pages under /classic; upstream 2.x serves the React
// UI at /graph and /alerts; 3.x serves its new UI at /query and /alerts.
func promUIs(version string) []promUI {
	classic := promUI{name: "classic", prefix: "/classic", graph: "/graph", tab: "1"}
	react := promUI{name: "react", graph: "/graph", tab: "1"}
	v3 := promUI{name: "v3", graph: "/query", tab: "table"}
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	switch {
	case err != nil:
		return []promUI{v3, react, classic}
	case n >= 3:
		return []promUI{v3, react}
	case strings.Contains(version, "+ds"):
		return []promUI{classic, react}
	default:
		return []promUI{react, classic}
	}
}

// links are ui's pages on the Prometheus at base.
func (ui promUI) links(base string) []string {
	q := url.Values{"g0.expr": {violationQuery}, "g0.tab": {ui.tab}}
	base += ui.prefix
	return []string{base + ui.graph + "?" + q.Encode(), base + "/alerts", base + "/targets"}
}

// findPromLinks asks the Prometheus at base for its version and returns the
// pages of the first UI it may serve whose every page answers 200. When none
// does, it returns the base URL alone with the reason.
func findPromLinks(ctx context.Context, base string) (promLinks, error) {
	ctx, cancel := context.WithTimeout(ctx, promProbeTimeout)
	defer cancel()
	version, verr := promVersion(ctx, base)
	var errs []error
	for _, ui := range promUIs(version) {
		l := ui.links(base)
		if err := allOK(ctx, l); err != nil {
			errs = append(errs, fmt.Errorf("%s UI: %w", ui.name, err))
			continue
		}
		return promLinks{version: version, graph: l[0], alerts: l[1], targets: l[2]}, nil
	}
	return promLinks{version: version, graph: base}, fmt.Errorf("no web UI of Prometheus %q answers: %w", version, errors.Join(append(errs, verr)...))
}

// allOK fails unless every url answers 200 itself, without a redirect.
func allOK(ctx context.Context, urls []string) error {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range urls {
		if _, err := get(ctx, client, u); err != nil {
			return err
		}
	}
	return nil
}

// promVersion is the version the Prometheus at base reports, such as
// "2.42.0+ds".
func promVersion(ctx context.Context, base string) (string, error) {
	body, err := get(ctx, http.DefaultClient, base+"/api/v1/status/buildinfo")
	if err != nil {
		return "", fmt.Errorf("prometheus buildinfo: %w", err)
	}
	var info struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("prometheus buildinfo: decode: %w", err)
	}
	return info.Data.Version, nil
}
