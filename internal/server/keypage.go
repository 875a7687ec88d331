package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"time"

	"github.com/observerd/observerd/internal/explain"
	"github.com/observerd/observerd/internal/human"
)

// keyStyle is the page's one style sheet, allowed by its hash.
const keyStyle = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;max-width:60em;color:#222}
table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}
.bar{font-family:monospace}.bad{color:#b00}.ok{color:#070}code{word-break:break-all}`

const keyTemplate = `<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Key}} · observerd</title><style>` + keyStyle + `</style></head>
<body><p><a href="/">← status page</a> · read live; the same URL answers JSON to a client that does not ask for HTML</p>
<h1>Key <code>{{.Key}}</code></h1>
{{range .Notes}}<p>{{.}}</p>{{end}}
<table>
<tr><th>read at</th><td>{{.At.Format "2006-01-02 15:04:05.000 MST"}} (Redis's clock)</td></tr>
<tr><th>exists</th><td>{{.Exists}}</td></tr>
<tr><th>count / limit</th><td>{{.Count}} / {{.Limit}} ({{.LimitSource}}{{if eq .LimitSource "default"}}, defaults from {{.DefaultsFrom}}{{end}})</td></tr>
<tr><th>window</th><td>{{ms .WindowMs}} ({{.WindowSource}})</td></tr>
<tr><th>remaining</th><td>{{.Remaining}}</td></tr>
<tr><th>next check</th><td>{{if .AllowedNext}}<span class="ok">allowed</span>{{else}}<span class="bad">blocked</span>{{with .RetryAt}}, allowed from {{.Format "15:04:05.000 MST"}}{{end}}{{with .RetryAfterMs}} (in {{ms .}}){{end}}{{with .ServiceRetryAfterSeconds}}; the service says retry after {{.}} s{{end}}{{end}}</td></tr>
<tr><th>TTL</th><td>{{.TTL}}{{if .TTLFits}} (fits the window){{else if .TTLOutlives}} <span class="bad">(outlives the window)</span>{{end}}</td></tr>
<tr><th>allowed ever (:seq)</th><td>{{with .AllowedTotal}}{{.}}{{else}}no sequence key{{end}}</td></tr>
<tr><th>entries</th><td>{{.EntriesTotal}} stored, {{.EntriesBeforeWindow}} before the window, {{.FutureEntries}} more than {{ms .FutureAfterMs}} in the future</td></tr>
</table>
<h2>Spread over the window</h2>
<table>{{range .Spread}}<tr><td>{{ms .FromMs}} … {{ms .ToMs}}</td><td>{{.Entries}}</td><td class="bar">{{bar .Entries $.Top}}</td></tr>{{end}}</table>
<h2>Nodes</h2>
{{if .Nodes}}<table><tr><th>node</th><th>count</th><th>limit</th><th>drift</th><th></th></tr>
{{range .Nodes}}<tr><td>{{.Node}}</td><td>{{opt .Count}}</td><td>{{opt .Limit}}</td><td>{{opt .Drift}}</td><td>{{.Note}}{{.Error}}</td></tr>{{end}}</table>{{else}}<p>no node asked</p>{{end}}
<h2>History</h2>
{{with .HistoryError}}<p>{{.}}</p>{{end}}{{with .HistorySince}}<p>kept since {{.Format "2006-01-02 15:04:05 MST"}}</p>{{end}}
{{if .History}}<table>{{range .History}}<tr><td>{{.At.Format "15:04:05"}} – {{.Until.Format "15:04:05"}}</td><td>{{.State}}</td><td>{{.Detail}}</td></tr>{{end}}</table>{{else}}<p>nothing remembered of this key</p>{{end}}
</body></html>
`

// keyPage renders one explanation as HTML, escaped by html/template.
type keyPage struct {
	tmpl   *template.Template
	policy string
}

func newKeyPage() *keyPage {
	sum := sha256.Sum256([]byte(keyStyle))
	return &keyPage{
		tmpl: template.Must(template.New("key").Funcs(template.FuncMap{
			"ms":  func(v int64) string { return (time.Duration(v) * time.Millisecond).String() },
			"opt": optInt,
			"bar": func(n, top int64) string { return human.Bar(n, top, 30) },
		}).Parse(keyTemplate)),
		policy: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'none'; base-uri 'none'; form-action 'none'",
	}
}

// keyPageData is an explanation with its largest bucket, which scales the
// spread's bars, and its optional TTL figures as the page writes them.
type keyPageData struct {
	*explain.Explanation
	Top int64
	// TTL is "–" without a key, "none" without a TTL; TTLFits and
	// TTLOutlives are both false without a key.
	TTL                  string
	TTLFits, TTLOutlives bool
}

// render is the page of x.
func (p *keyPage) render(x *explain.Explanation) ([]byte, error) {
	d := keyPageData{Explanation: x, TTL: "–"}
	switch {
	case x.TTLMs == nil:
	case *x.TTLMs < 0:
		d.TTL = "none"
	default:
		d.TTL = (time.Duration(*x.TTLMs) * time.Millisecond).String()
	}
	if x.TTLFitsWindow != nil {
		d.TTLFits, d.TTLOutlives = *x.TTLFitsWindow, !*x.TTLFitsWindow
	}
	for _, b := range x.Spread {
		d.Top = max(d.Top, b.Entries)
	}
	var b bytes.Buffer
	if err := p.tmpl.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func optInt(v *int64) string {
	if v == nil {
		return "–"
	}
	return fmt.Sprint(*v)
}
