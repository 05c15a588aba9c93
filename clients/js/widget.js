/* Junban partner widget: live wait state, i-message, address and hours of one queue.
 *   <script src="https://HUB/widget.js" data-info="1234-01" async></script>
 * Options: data-lang="ja|en" (default: the page's <html lang>), data-target="element id"
 * (default: right after the script tag). Renders inside a Shadow DOM, so no CSS leaks in or
 * out; uses only public, CORS-enabled reads (GET /v1/facilities/{f}, SSE of the queue) and
 * no dependencies. Data goes in with textContent only. */
(function () {
  "use strict";
  var W = {
    ja: {
      open: "受付中", closed: "受付停止中", waiting: "お待ちの方", calling: "呼び出し中",
      wait: "待ち時間の目安", min: "約{n}分", people: "{n}人", none: "—", take: "Web受付・待ち状況",
      address: "住所", hours: "診療時間", live: "リアルタイム", offline: "更新停止中",
      stop: "サービス一時停止", end: "サービス終了",
    },
    en: {
      open: "Open", closed: "Closed", waiting: "Waiting", calling: "Now calling",
      wait: "Estimated wait", min: "~{n} min", people: "{n}", none: "—", take: "Join the queue online",
      address: "Address", hours: "Hours", live: "Live", offline: "Not updating",
      stop: "Service pause", end: "Service ends",
    },
  };
  var CSS =
    ":host{all:initial!important;display:block!important;max-width:420px}" +
    ".c{font:15px/1.5 system-ui,-apple-system,'Segoe UI','Hiragino Sans','Noto Sans JP',Meiryo,sans-serif;" +
    "color:#1b2421;background:#fff;border:1px solid #d5ddd9;border-radius:14px;padding:16px;text-align:left}" +
    ".h{display:flex;justify-content:space-between;gap:8px;align-items:flex-start}" +
    "h2{font-size:17px;margin:0;line-height:1.3}" +
    ".p{flex:none;font-size:13px;font-weight:700;border-radius:99px;padding:1px 10px;background:#e3f1eb;color:#08563e}" +
    ".p.off{background:#eceff0;color:#4a4f52}" +
    "dl{display:grid;grid-template-columns:repeat(3,1fr);gap:8px;margin:12px 0}" +
    "dl div{background:#f5f7f6;border-radius:8px;padding:8px;text-align:center}" +
    "dt{font-size:12px;color:#4d5a55}dd{margin:0;font-size:22px;font-weight:800;font-variant-numeric:tabular-nums}" +
    ".m{margin:0 0 10px;padding:8px 12px;border-left:4px solid #0b6e4f;background:#e3f1eb;border-radius:4px;white-space:pre-line}" +
    ".i{margin:0;font-size:13px;color:#4d5a55}" +
    ".n{margin:0 0 10px;padding:8px 12px;border:1px solid #d9b44a;background:#fff8e1;color:#4a3500;border-radius:8px;font-size:13px}" +
    "a{display:flex;align-items:center;justify-content:center;min-height:44px;margin-top:12px;border-radius:8px;" +
    "background:#0b6e4f;color:#fff;font-weight:700;text-decoration:none}" +
    "a:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}" +
    ".s{font-size:12px;color:#4d5a55;margin:6px 0 0}.s.off{color:#b42318}[hidden]{display:none!important}";

  function el(parent, tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    parent.appendChild(e);
    return e;
  }

  function mount(script) {
    var info = script.getAttribute("data-info") || "";
    if (!/^\d{1,8}-\d{2}$/.test(info) || script.__junban) return;
    script.__junban = true;
    var base = new URL(script.src, location.href).origin;
    var facility = info.split("-")[0];
    var want = script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "ja";
    var lang = /^en/i.test(want) ? "en" : "ja";
    var s = W[lang];
    var fmt = function (key, n) { return s[key].replace("{n}", n); };

    var host = document.createElement("div");
    host.setAttribute("data-junban-widget", info);
    var target = script.getAttribute("data-target");
    var into = target && document.getElementById(target);
    if (into) into.appendChild(host);
    else script.parentNode.insertBefore(host, script.nextSibling);
    var root = host.attachShadow({ mode: "open" });
    el(root, "style", null, CSS);
    var card = el(root, "section", "c");
    card.setAttribute("lang", lang);
    card.setAttribute("part", "card");
    var head = el(card, "div", "h");
    var name = el(head, "h2", null, info);
    var pill = el(head, "span", "p");
    var dl = el(card, "dl");
    dl.setAttribute("aria-live", "polite");
    dl.setAttribute("aria-atomic", "true");
    function stat(label) {
      var d = el(dl, "div");
      el(d, "dt", null, label);
      return el(d, "dd", null, s.none);
    }
    var waiting = stat(s.waiting), calling = stat(s.calling), wait = stat(s.wait);
    var notes = el(card, "div");
    notes.setAttribute("role", "status");
    var msg = el(card, "p", "m");
    msg.hidden = true;
    var addr = el(card, "p", "i");
    var hours = el(card, "p", "i");
    var link = el(card, "a", null, s.take);
    link.href = base + "/q/" + info + "?lang=" + lang;
    link.target = "_blank";
    link.rel = "noopener";
    var net = el(card, "p", "s", s.live);

    // text is written only when it changes: the stats and notices are live regions
    function put(e, text) { if (e.textContent !== text) e.textContent = text; }

    function online(ok) {
      put(net, ok ? s.live : s.offline);
      net.className = ok ? "s" : "s off";
    }

    function render(q) {
      var open = q.open && !q.suspended;
      put(pill, open ? s.open : s.closed);
      pill.className = open ? "p" : "p off";
      put(waiting, fmt("people", q.waiting_count));
      put(calling, q.calling.length ? q.calling.map(function (c) { return c.number; }).join(" ") : s.none);
      put(wait, fmt("min", Math.round(q.waiting_count * q.minutes_per_patient)));
      put(msg, q.message || "");
      msg.hidden = !q.message;
      var texts = [];
      (q.notices || []).forEach(function (n) {
        if (n.ends_at && Date.parse(n.ends_at) < Date.now()) return;
        var when = new Date(n.starts_at).toLocaleString(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: q.tz });
        texts.push((n.kind === "discontinuation" ? s.end : s.stop) + " " + when + "〜 " + (n.message || ""));
      });
      if (notes.getAttribute("data-t") !== texts.join("\n")) {
        notes.setAttribute("data-t", texts.join("\n"));
        notes.textContent = "";
        texts.forEach(function (text) { el(notes, "p", "n", text); });
      }
      host.setAttribute("data-v", q.v);
    }

    function getJSON(path) {
      return fetch(base + path, { mode: "cors", credentials: "omit" }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.json();
      });
    }

    var lastV = -1, lastEpoch = null;
    function accept(q) {
      if (q.epoch === lastEpoch && q.v <= lastV) return;
      lastV = q.v;
      lastEpoch = q.epoch;
      render(q);
    }

    function poll() {
      getJSON("/v1/queues/" + info).then(function (q) { accept(q); online(true); }, function () { online(false); });
      setTimeout(poll, 20000);
    }

    getJSON("/v1/facilities/" + facility).then(function (f) {
      name.textContent = f.name;
      addr.textContent = f.address ? s.address + ": " + f.address : "";
      hours.textContent = f.hours ? s.hours + ": " + f.hours : "";
      (f.queues || []).forEach(function (q) { if (q.info === info) accept(q); });
      live();
    }, function (err) {
      // 403 option_not_contracted (no API option) or 404: this widget shows nothing
      if (err.message === "403" || err.message === "404") host.remove();
      else { online(false); live(); }
    });
    // SSE. On an error the stream is closed and reopened after a jittered backoff (not the
    // EventSource's own fixed retry, which brings every widget back in the same second);
    // a stream that never opened twice in a row gives way to polling.
    var tries = 0, opened = false;
    function live() {
      if (!window.EventSource) return poll();
      var es = new EventSource(base + "/v1/queues/" + info + "/events");
      es.addEventListener("state", function (e) {
        try { accept(JSON.parse(e.data)); online(true); } catch (err) { /* a bad frame: skip */ }
      });
      es.onopen = function () { opened = true; tries = 0; };
      es.onerror = function () {
        es.close();
        online(false);
        if (++tries >= 2 && !opened) return poll();
        setTimeout(live, Math.random() * Math.min(60000, 1000 * Math.pow(2, tries)));
      };
    }
  }

  if (document.currentScript) mount(document.currentScript);
  var all = document.querySelectorAll("script[data-info][src*='widget.js']");
  for (var i = 0; i < all.length; i++) mount(all[i]);
})();
