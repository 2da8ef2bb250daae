// The phones page: customer actions through the control API, and a poll of /phones/live every second.
"use strict";
(function () {
  const POLL_MS = 1000;
  const pending = new Map(); // customer id -> start payload of a Telegram link opened but not started yet

  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method,
      headers: body === undefined ? {} : {"Content-Type": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((data.error && data.error.message) || response.status + " " + response.statusText);
    }
    return data;
  }

  function note(element, text, isError) {
    if (!element) return;
    element.textContent = text || "";
    element.classList.toggle("error", Boolean(isError));
  }

  function phoneOf(element) { return element.closest(".phone[data-customer]"); }

  function show(phone, channel) {
    phone.querySelectorAll(".tab").forEach((tab) => {
      const active = tab.dataset.app === channel;
      tab.classList.toggle("active", active);
      if (active) tab.classList.remove("unread");
    });
    phone.querySelectorAll(".app").forEach((app) => { app.hidden = app.dataset.channel !== channel; });
    scrollDown(phone);
  }

  function scrollDown(phone) {
    phone.querySelectorAll(".app:not([hidden]) .screen").forEach((screen) => { screen.scrollTop = screen.scrollHeight; });
  }

  function showHints(phone) {
    const payload = pending.get(phone.dataset.customer);
    phone.querySelectorAll(".app.telegram [data-hint]").forEach((hint) => {
      if (payload !== undefined) hint.textContent = payload ? "Opened from a link: start=" + payload : "Opened the bot";
    });
  }

  // A customer action: POST /sandbox/customers/<id>/<action>, then tell what the bot's webhook did.
  async function act(phone, action, body) {
    const customer = phone.dataset.customer;
    note(phone.querySelector(".note"), "");
    try {
      const result = await call("POST", "/sandbox/customers/" + customer + "/" + action, body || {});
      if (result.delivered === false && result.reason) note(phone.querySelector(".note"), "Not delivered: " + result.reason);
      return result;
    } catch (error) {
      note(phone.querySelector(".note"), error.message, true);
      return null;
    } finally {
      refresh();
    }
  }

  // A deep link pasted or clicked: Telegram first shows START (as the app does), unless already started.
  async function openLink(phone, url) {
    note(phone.querySelector(".note"), "");
    let link;
    try {
      link = await call("POST", "/phones/parse-link", {url: url});
    } catch (error) {
      note(phone.querySelector(".note"), error.message, true);
      return;
    }
    show(phone, link.channel);
    const app = phone.querySelector(".app." + link.channel);
    if (link.channel === "telegram" && app.dataset.mode !== "chat") {
      pending.set(phone.dataset.customer, link.payload || "");
      showHints(phone);
      return;
    }
    await act(phone, "open-link", {url: url});
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("button, a");
    if (!target) return;
    const phone = phoneOf(target);
    if (target.classList.contains("deep-link") && phone) {
      event.preventDefault();
      openLink(phone, target.dataset.url);
    } else if (target.dataset.app && phone) {
      show(phone, target.dataset.app);
    } else if (target.dataset.act && phone) {
      act(phone, target.dataset.act, target.dataset.body ? JSON.parse(target.dataset.body) : {});
    } else if (target.dataset.openLink && phone) {
      openLink(phone, target.dataset.openLink);
    } else if (target.hasAttribute("data-start") && phone) {
      const payload = pending.get(phone.dataset.customer);
      pending.delete(phone.dataset.customer);
      act(phone, "telegram/start", payload ? {payload: payload} : {});
    } else if (target.hasAttribute("data-remove") && phone) {
      if (window.confirm("Remove " + phone.dataset.customer + " from the sandbox?")) {
        call("DELETE", "/sandbox/customers/" + phone.dataset.customer).then(refresh, (e) => note(phone.querySelector(".note"), e.message, true));
      }
    } else if (target.dataset.clear) {
      const key = target.dataset.clear;
      const patch = {};
      patch[key] = null;
      faults("PATCH", patch);
    } else if (target.id === "clear-faults") {
      faults("DELETE");
    } else if (target.id === "reset-stats") {
      call("POST", "/sandbox/stats/reset").then(refresh);
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    event.preventDefault();
    const phone = phoneOf(form);
    if (form.classList.contains("link-form") && phone) {
      const url = form.elements.url.value.trim();
      if (url) openLink(phone, url).then(() => { form.elements.url.value = ""; });
    } else if (form.classList.contains("composer") && phone) {
      const text = form.elements.text.value;
      if (!text.trim()) return;
      const channel = form.closest(".app").dataset.channel;
      act(phone, channel + "/text", {text: text}).then((done) => { if (done) form.elements.text.value = ""; });
    } else if (form.id === "add-customer") {
      const body = {name: form.elements.name.value, phone: form.elements.phone.value, language: form.elements.language.value};
      call("POST", "/sandbox/customers", body).then(() => { form.reset(); refresh(); },
        (error) => note(form.querySelector(".note"), error.message, true));
    } else if (form.dataset.fault) {
      faults("PATCH", faultPatch(form));
    }
  });

  function faultPatch(form) {
    const value = (name) => Number(form.elements[name].value);
    const kind = form.dataset.fault;
    if (kind === "latency") {
      const ms = value("ms");
      const jitter = value("jitter");
      return {latency: jitter > 0 ? {uniform_ms: [Math.max(0, ms - jitter), ms + jitter]} : {fixed_ms: ms}};
    }
    if (kind === "outage") {
      return {outage: {channel: form.elements.channel.value, mode: form.elements.mode.value, seconds: value("seconds")}};
    }
    if (kind === "rate_limits") {
      return {rate_limits: {enforce: true, telegram_per_second: value("telegram_per_second"),
        telegram_per_chat_per_second: value("telegram_per_chat_per_second"),
        viber_per_user_per_hour: value("viber_per_user_per_hour")}};
    }
    const method = form.elements.method.value;
    const code = value("code");
    const rule = {rate: value("rate")};
    if (method.startsWith("telegram.")) rule.error_code = code;
    else if (code >= 500) rule.http_status = code;
    else rule.status = code;
    const rates = {};
    rates[method] = rule;
    return {error_rates: rates};
  }

  function faults(method, body) {
    const where = document.getElementById("faults-note");
    note(where, "");
    return call(method, "/sandbox/faults", body).then(refresh, (error) => note(where, error.message, true));
  }

  // --- live updates --------------------------------------------------------------------------------
  let version = document.body.dataset.version;
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) {
      again = true; // an action finished during a poll: look once more right after it
      return;
    }
    busy = true;
    try {
      const response = await fetch("/phones/live?v=" + encodeURIComponent(version), {cache: "no-store"});
      if (!response.ok) return;
      const live = await response.json();
      if (live.version === version || !live.chats) return;
      const shown = Array.from(document.querySelectorAll(".phone[data-customer]"), (p) => p.dataset.customer);
      if (shown.join(",") !== live.customers.join(",")) {
        window.location.reload(); // customers came or went: render the page again
        return;
      }
      version = live.version;
      for (const [customer, chats] of Object.entries(live.chats)) {
        const phone = document.getElementById("phone-" + customer);
        for (const [channel, chat] of Object.entries(chats)) {
          const app = phone.querySelector(".app." + channel);
          const fresh = Number(app.dataset.received) !== chat.received;
          app.querySelector(".live").innerHTML = chat.html;
          app.dataset.mode = chat.mode;
          app.dataset.received = chat.received;
          if (fresh && app.hidden) phone.querySelector(".tab." + channel).classList.add("unread");
        }
        showHints(phone);
        scrollDown(phone);
      }
      document.getElementById("faults-now").innerHTML = live.faults;
      document.getElementById("stats").innerHTML = live.stats;
    } catch (error) {
      // The sandbox is restarting, or gone: keep trying quietly.
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  document.querySelectorAll(".phone[data-customer]").forEach(scrollDown);
  window.setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
})();
