addEventListener("load", function () {
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
