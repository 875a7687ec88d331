package statuspage

import (
	"crypto/sha256"
	"encoding/base64"
)

// css is the page's only style sheet, inline: the page loads nothing.
// The page has no style attributes, so that the Content-Security-Policy
// can allow this sheet by its hash and nothing else.
const css = `:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--row:#f6f8fa;
--crit:#b3261e;--warn:#9a6700;--info:#0969da;--ok:#1a7f37;--deg:#6e7781}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--row:#151b23;
--crit:#f85149;--warn:#d29922;--info:#4493f8;--ok:#3fb950;--deg:#9198a1}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;background:var(--bg);color:var(--fg)}
header{padding:14px 20px;color:#fff;background:var(--deg)}
body.critical header{background:#b3261e}body.warning header{background:#9a6700}
body.info header{background:#0969da}body.ok header{background:#1a7f37}
header h1{margin:0;font-size:30px;letter-spacing:.02em}header h1 small{font-size:16px;font-weight:400;opacity:.85}
header p{margin:4px 0}header a{color:#fff}
main{padding:4px 20px 20px}section{margin:18px 0}
h2{font-size:17px;margin:0 0 6px;padding-bottom:2px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:10px 0 4px;text-transform:uppercase}
tr.group th{padding:10px 0 2px;border-bottom:none;font-size:15px;text-transform:uppercase;color:var(--fg)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);white-space:nowrap}
tbody tr:nth-child(even):not(.group){background:var(--row)}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.key{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}td.key{min-width:12ch}
.muted{color:var(--muted)}.nowrap{white-space:nowrap}
tr.group th.critical,tr.critical .inv,.status-error,.bad{color:var(--crit)}
tr.group th.warning,tr.warning .inv,.status-stale{color:var(--warn)}
tr.group th.info,tr.info .inv{color:var(--info)}
.status-ok,.good{color:var(--ok)}.status-pending{color:var(--muted)}
.inv{font-weight:600;white-space:nowrap}
table.violations td{font-size:15px}table.violations tr.critical td:first-child{border-left:6px solid var(--crit)}
table.violations tr.warning td:first-child{border-left:6px solid var(--warn)}
table.violations tr.info td:first-child{border-left:6px solid var(--info)}
p.none{font-size:18px;font-weight:600;color:var(--ok);margin:6px 0}
.dropped{color:var(--warn)}
tr.raised td:nth-child(2){color:var(--crit);font-weight:600}tr.cleared td:nth-child(2){color:var(--ok)}
dl.figures{display:flex;flex-wrap:wrap;gap:6px 24px;margin:6px 0}
dl.figures div{min-width:140px}dl.figures dt{color:var(--muted);font-size:12px}dl.figures dd{margin:0;font-size:18px;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-weight:600}
.legend{font-weight:400;margin-left:10px}.legend.allowed{color:var(--ok)}.legend.blocked{color:var(--crit)}.legend.keys{color:var(--info)}
svg{max-width:100%;height:auto}svg text{font-size:11px;fill:var(--muted)}
svg .axis{stroke:var(--line);stroke-width:1}
svg polyline{fill:none;stroke-width:1.5;stroke-linecap:round;stroke-linejoin:round}
svg .allowed{stroke:var(--ok)}svg .blocked{stroke:var(--crit)}svg .keys{stroke:var(--info)}
svg circle.allowed{fill:var(--ok)}svg circle.blocked{fill:var(--crit)}svg circle.keys{fill:var(--info)}
nav.links a{margin-right:12px}footer{padding:10px 20px;border-top:1px solid var(--line)}footer a{color:var(--info)}
`

// script reloads the page as soon as observerd publishes a newer snapshot,
// when /events streams them; without it (or without JavaScript) the meta
// refresh reloads the page. It opens the stream once the page has loaded,
// so that the stream never holds the load up, and reloads at most once a
// second. An event names its snapshot by its id or by the sequence of its
// data; one that names none counts as newer unless it is the first, which
// a stream may send for the snapshot the page already shows.
const script = `addEventListener("load", function () {
  if (!window.EventSource) return;
  var shown = Number(document.body.dataset.sequence) || 0, loaded = Date.now(), first = true;
  var es = new EventSource("events");
  function onEvent(e) {
    var seq = parseInt(e.lastEventId, 10);
    if (isNaN(seq)) { try { seq = Number(JSON.parse(e.data).sequence); } catch (err) { seq = NaN; } }
    var newer = isNaN(seq) ? !first : seq > shown;
    first = false;
    if (!newer) return;
    es.close();
    setTimeout(function () { location.reload(); }, Math.max(0, 1000 - (Date.now() - loaded)));
  }
  es.onmessage = onEvent;
  es.addEventListener("snapshot", onEvent);
});
`

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
