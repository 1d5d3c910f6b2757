// oauthd dashboard: progressive enhancement only. Every page and action
// works without this file; it adds copy buttons, shows the sign-in fields
// and the client authentication fields of the chosen method, and checks IP
// allowlists as they are typed (the server checks them again).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons are rendered hidden and shown only when they can work.
  if (navigator.clipboard) {
    document.querySelectorAll("button[data-copy]").forEach(function (btn) {
      btn.hidden = false;
      btn.addEventListener("click", function () {
        var src = document.getElementById(btn.getAttribute("data-copy"));
        if (!src) return;
        navigator.clipboard.writeText(src.textContent.trim()).then(function () {
          var label = btn.textContent;
          btn.textContent = "Copied";
          btn.classList.add("done");
          setTimeout(function () { btn.textContent = label; btn.classList.remove("done"); }, 2000);
        });
      });
    });
  }

  // Sign-in: show only the chosen method's fields.
  var methods = document.querySelectorAll("input[name=method]");
  function showMethod() {
    var chosen = document.querySelector("input[name=method]:checked");
    document.querySelectorAll("[data-method]").forEach(function (el) {
      el.hidden = chosen && el.getAttribute("data-method") !== chosen.value;
    });
  }
  methods.forEach(function (m) { m.addEventListener("change", showMethod); });
  if (methods.length) showMethod();

  // Client authentication: show, and send, only the fields the chosen
  // method uses. A hidden field is disabled too, so what was typed for
  // another method (a certificate's subject, keys) does not refuse this
  // one; without this file every field shows and the server says which
  // ones a method takes.
  var authMethods = document.querySelectorAll("input[name=token_endpoint_auth_method]");
  function showAuthFields() {
    // None chosen is a shared secret, as the server takes it.
    var chosen = document.querySelector("input[name=token_endpoint_auth_method]:checked");
    var method = chosen ? chosen.value : "";
    document.querySelectorAll("[data-auth-methods]").forEach(function (el) {
      var off = el.getAttribute("data-auth-methods").split(" ").indexOf(method) < 0;
      el.hidden = off;
      el.querySelectorAll("input, textarea").forEach(function (f) { f.disabled = off; });
    });
  }
  authMethods.forEach(function (m) { m.addEventListener("change", showAuthFields); });
  if (authMethods.length) showAuthFields();

  // IP allowlists: one IPv4 or IPv6 address or CIDR per line.
  var v4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  var v6 = /^[0-9a-fA-F:.]+$/;
  function entryError(s) {
    var parts = s.split("/");
    if (parts.length > 2) return s + " is not an address or CIDR";
    var addr = parts[0], isV4 = v4.test(addr);
    var isV6 = !isV4 && addr.indexOf(":") >= 0 && v6.test(addr) && addr.split("::").length <= 2;
    if (!isV4 && !isV6) return s + " is not an IP address or CIDR such as 10.0.0.0/8";
    if (parts.length === 2) {
      var bits = Number(parts[1]);
      if (!/^\d+$/.test(parts[1]) || bits > (isV4 ? 32 : 128)) return s + ": the prefix length must be 0 to " + (isV4 ? 32 : 128);
    }
    return "";
  }
  document.querySelectorAll("textarea[data-allowlist]").forEach(function (ta) {
    var out = document.getElementById(ta.getAttribute("aria-describedby"));
    function check() {
      var msg = "";
      ta.value.split(/[\s,]+/).some(function (s) {
        if (s === "") return false;
        msg = entryError(s);
        return msg !== "";
      });
      ta.setAttribute("aria-invalid", msg ? "true" : "false");
      if (out) out.textContent = msg;
    }
    ta.addEventListener("input", check);
    ta.addEventListener("blur", check);
  });
});
