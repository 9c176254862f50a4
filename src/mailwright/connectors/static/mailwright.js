/*!
 * Mailwright site snippet - sends Product Viewed, Product Added, Checkout Started and page views
 * to Mailwright's Segment-compatible API, with an anonymous id kept in a first-party cookie.
 * Part of Mailwright; same licence as Mailwright (see the project's LICENSE). No third-party code.
 *
 * <script src="https://mailwright.example/snippet/mailwright.js" data-write-key="WRITE_KEY" defer></script>
 * mailwright.track("Product Viewed", {product_id: "42", name: "Mug", price: 12.5});
 * mailwright.identify("ada@example.com", {first_name: "Ada"});   // on sign-up or login
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript;
  var cfg = w.mailwrightConfig || {};
  var writeKey = cfg.writeKey || (script && script.getAttribute("data-write-key")) || "";
  var host = (cfg.host || (script && script.getAttribute("data-host")) ||
    (script ? new URL(script.src, w.location.href).origin : "")).replace(/\/$/, "");
  var COOKIE = "mw_anon";
  var DAYS = 365;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) { return w.crypto.randomUUID(); }
    var b = new Uint8Array(16);
    w.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function writeCookie(name, value) {
    d.cookie = name + "=" + encodeURIComponent(value) + "; path=/; max-age=" + DAYS * 86400 + "; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
  }
  function store(key, value) { try { w.localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function load(key) { try { return w.localStorage.getItem(key); } catch (e) { return null; } }

  // The cookie is the anonymous id; localStorage keeps a copy in case the cookie is cleared alone.
  var anonymousId = readCookie(COOKIE) || load(COOKIE) || uuid();
  writeCookie(COOKIE, anonymousId);
  store(COOKIE, anonymousId);
  var userEmail = load("mw_email");

  function context() {
    return {
      library: {name: "mailwright.js", version: "1"},
      page: {url: w.location.href, path: w.location.pathname, referrer: d.referrer, title: d.title},
      userAgent: w.navigator.userAgent
    };
  }
  function send(path, message) {
    message.anonymousId = anonymousId;
    message.messageId = "mw-" + uuid();
    message.timestamp = new Date().toISOString();
    message.context = context();
    if (userEmail && !message.traits) { message.context.traits = {email: userEmail}; }
    // The write key goes in the body and the type is text/plain: a "simple" cross-origin request, so
    // the browser sends no preflight and Mailwright's API needs no CORS set-up (as analytics.js does).
    message.writeKey = writeKey;
    return w.fetch(host + path, {
      method: "POST",
      mode: "no-cors",
      keepalive: true,
      headers: {"Content-Type": "text/plain"},
      body: JSON.stringify(message)
    }).catch(function () { /* the shop's page must never break because tracking did */ });
  }
  function joinClick() {
    // A visitor who came from a tracked email carries Mailwright's identity cookie (set on the click
    // redirect, HttpOnly): the server reads it and joins this anonymous id to that contact.
    var form = new URLSearchParams();
    form.set("anonymousId", anonymousId);
    return w.fetch(host + "/t/alias", {method: "POST", mode: "no-cors", credentials: "include", body: form})
      .catch(function () {});
  }

  var api = {
    anonymousId: function () { return anonymousId; },
    page: function (name, properties) {
      return send("/v1/page", {type: "page", name: name || d.title, properties: properties || {}});
    },
    track: function (event, properties) {
      return send("/v1/track", {type: "track", event: event, properties: properties || {}});
    },
    identify: function (email, traits) {
      var t = traits || {};
      if (email) { t.email = email; userEmail = email; store("mw_email", email); }
      return send("/v1/identify", {type: "identify", traits: t});
    },
    productViewed: function (p) { return api.track("Product Viewed", p); },
    productAdded: function (p) { return api.track("Product Added", p); },
    checkoutStarted: function (p) { return api.track("Checkout Started", p); },
    ready: null
  };
  var queued = w.mailwright && w.mailwright.q ? w.mailwright.q : [];
  w.mailwright = api;
  var steps = [joinClick()];
  if (cfg.pageViews !== false) { steps.push(api.page()); }
  for (var i = 0; i < queued.length; i++) {
    var call = queued[i];
    if (api[call[0]]) { steps.push(api[call[0]].apply(api, call.slice(1))); }
  }
  api.ready = Promise.all(steps);
})(window, document);
