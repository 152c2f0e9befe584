// The design's client, in plain JavaScript (no build step): the polling hooks of
// realtime-polling-design.md as small functions, and the RealtimeProvider factory that
// switches polling / long-poll / SSE / WebSocket from the query string.
"use strict";

const POLL_INTERVAL_MS = 2000;          // usePolling
const NOTIFICATIONS_INTERVAL_MS = 10000; // useNotifications
const MAX_RETRIES = 3;                  // useResilientPolling
const MAX_BACKOFF_MS = 30000;
const LONG_POLL_WAIT_MS = 25000;

const backoffMs = (attempt) => Math.min(1000 * 2 ** attempt, MAX_BACKOFF_MS);

// usePolling(fn, intervalMs): call fn every intervalMs, paused while the tab is hidden.
// intervalMs may be a function (useDynamicPolling passes one). Returns stop().
function usePolling(fn, intervalMs = POLL_INTERVAL_MS) {
  let timer = null;
  let stopped = false;
  const delay = () => (typeof intervalMs === "function" ? intervalMs() : intervalMs);
  const tick = async () => {
    timer = null;
    if (stopped || document.hidden) return;
    try { await fn(); } finally { schedule(); }
  };
  const schedule = () => {
    if (!stopped && !document.hidden && timer === null) timer = setTimeout(tick, delay());
  };
  const onVisibility = () => {
    if (document.hidden) { clearTimeout(timer); timer = null; } else { clearTimeout(timer); timer = null; tick(); }
  };
  document.addEventListener("visibilitychange", onVisibility);
  tick();
  return () => { stopped = true; clearTimeout(timer); document.removeEventListener("visibilitychange", onVisibility); };
}

// useDynamicPolling: the interval follows the channel's activeUsers (the seed's thresholds).
function dynamicIntervalMs(activeUsers) {
  if (activeUsers > 10) return 1000;
  if (activeUsers > 5) return 2000;
  return 5000;
}
function useDynamicPolling(fn) {
  let activeUsers = 0;
  return usePolling(async () => {
    const answer = await fn();
    if (answer && typeof answer.activeUsers === "number") activeUsers = answer.activeUsers;
  }, () => dynamicIntervalMs(activeUsers));
}

// useResilientPolling: wrap fn with up to 3 retries after min(1000*2^n, 30000) ms, and
// skip work while the browser is offline (resuming at once when it comes back online).
function useResilientPolling(fn, poller = usePolling) {
  let online = navigator.onLine;
  let kick = null;
  window.addEventListener("offline", () => { online = false; setStatus("offline"); });
  window.addEventListener("online", () => { online = true; setStatus("online"); if (kick) kick(); });
  const resilient = async () => {
    if (!online) return undefined;
    for (let attempt = 0; ; attempt++) {
      try { const answer = await fn(); setStatus("connected"); return answer; } catch (err) {
        if (attempt >= MAX_RETRIES) { setStatus(`error: ${err.message}`); return undefined; }
        setStatus(`retry ${attempt + 1} in ${backoffMs(attempt)} ms`);
        await sleep(backoffMs(attempt));
      }
    }
  };
  kick = () => resilient();
  return poller(resilient);
}

// useNotifications: unread notifications every 10 s (paused while hidden).
function useNotifications(api, onCount) {
  return usePolling(async () => {
    const body = await api.get("/api/notifications/unread");
    onCount(body.count);
  }, NOTIFICATIONS_INTERVAL_MS);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function makeApi(token) {
  const call = async (method, path, body) => {
    const resp = await fetch(path, {
      method, headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    window.pollcap.requests[path.split("?")[0]] = (window.pollcap.requests[path.split("?")[0]] || 0) + 1;
    if (!resp.ok) throw new Error(`${method} ${path.split("?")[0]}: HTTP ${resp.status}`);
    return resp.json();
  };
  return { get: (path) => call("GET", path), post: (path, body) => call("POST", path, body) };
}

// ---- RealtimeProvider { subscribe(channel, cb), unsubscribe(channel), send(channel, data) }

class CursorSet { // per channel: the last seq delivered; drops repeats, so cb sees each once
  constructor() { this.last = new Map(); }
  after(channel) { return this.last.get(channel) ?? null; }
  accept(channel, message) {
    const last = this.last.get(channel);
    if (last !== undefined && message.seq <= last) return false;
    this.last.set(channel, message.seq);
    return true;
  }
}

function postSend(api) {
  return async (channel, data) =>
    (await api.post(`/api/chat/${encodeURIComponent(channel)}/messages`, { content: data })).message;
}

function pollUrl(channel, after, extra = "") {
  const query = after === null ? "" : `after=${after}`;
  return `/api/chat/${encodeURIComponent(channel)}/messages?${query}${extra}`;
}

class PollingProvider {
  constructor(api, { dynamic = false } = {}) {
    this.api = api; this.dynamic = dynamic; this.cursors = new CursorSet(); this.stops = new Map();
    this.send = postSend(api);
  }
  subscribe(channel, cb) {
    const poll = async () => {
      window.pollcap.polls += 1;
      const answer = await this.api.get(pollUrl(channel, this.cursors.after(channel)));
      for (const m of answer.messages) if (this.cursors.accept(channel, m)) cb(m);
      return answer;
    };
    const poller = this.dynamic ? useDynamicPolling : usePolling;
    this.stops.set(channel, useResilientPolling(poll, poller));
  }
  unsubscribe(channel) { (this.stops.get(channel) || (() => {}))(); this.stops.delete(channel); }
}

class LongPollProvider {
  constructor(api) { this.api = api; this.cursors = new CursorSet(); this.live = new Set(); this.send = postSend(api); }
  subscribe(channel, cb) {
    this.live.add(channel);
    const loop = async () => {
      for (let attempt = 0; this.live.has(channel);) {
        try {
          window.pollcap.polls += 1;
          const after = this.cursors.after(channel);
          const answer = await this.api.get(pollUrl(channel, after, after === null ? "" : `&waitMs=${LONG_POLL_WAIT_MS}`));
          for (const m of answer.messages) if (this.cursors.accept(channel, m)) cb(m);
          if (after === null && answer.messages.length === 0) this.cursors.last.set(channel, 0);
          attempt = 0; setStatus("connected");
        } catch (err) {
          setStatus(`retry in ${backoffMs(attempt)} ms`);
          await sleep(backoffMs(attempt)); attempt = Math.min(attempt + 1, 10);
        }
      }
    };
    loop();
  }
  unsubscribe(channel) { this.live.delete(channel); }
}

class SSEProvider {
  constructor(api, token) { this.api = api; this.token = token; this.cursors = new CursorSet(); this.sources = new Map(); this.send = postSend(api); }
  subscribe(channel, cb) {
    const after = this.cursors.after(channel);
    const url = `/api/realtime/sse?channel=${encodeURIComponent(channel)}&after=${after ?? 0}&token=${encodeURIComponent(this.token)}`;
    const source = new EventSource(url); // reconnects by itself, sending Last-Event-ID
    source.addEventListener("open", () => setStatus("connected"));
    source.addEventListener("error", () => setStatus("reconnecting"));
    source.addEventListener("message", (event) => {
      const m = JSON.parse(event.data);
      if (this.cursors.accept(channel, m)) cb(m);
    });
    this.sources.set(channel, source);
  }
  unsubscribe(channel) { const s = this.sources.get(channel); if (s) s.close(); this.sources.delete(channel); }
}

class WebSocketProvider {
  constructor(token) {
    this.token = token; this.cursors = new CursorSet(); this.callbacks = new Map();
    this.pending = new Map(); this.refs = 0; this.attempt = 0; this.onNotification = null;
    this.connect();
  }
  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${location.host}/api/realtime/ws?token=${encodeURIComponent(this.token)}`);
    this.ready = new Promise((resolve) => this.ws.addEventListener("open", resolve, { once: true }));
    this.ws.addEventListener("open", () => {
      this.attempt = 0; setStatus("connected");
      for (const channel of this.callbacks.keys()) this.frame({ op: "subscribe", channel, after: this.cursors.after(channel) ?? 0 });
    });
    this.ws.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    this.ws.addEventListener("close", (event) => {
      if (event.code === 4401) { setStatus("bad token"); return; }
      setStatus(`reconnecting (${event.code})`);
      setTimeout(() => this.connect(), backoffMs(this.attempt++));
    });
  }
  frame(data) { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(data)); }
  receive(frame) {
    if (frame.op === "message") {
      const cb = this.callbacks.get(frame.channel);
      if (cb && this.cursors.accept(frame.channel, frame.message)) cb(frame.message);
    } else if (frame.op === "subscribed") {
      if (this.cursors.after(frame.channel) === null) this.cursors.last.set(frame.channel, frame.latest);
    } else if (frame.op === "ack" || (frame.op === "error" && frame.ref)) {
      const waiter = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      if (waiter) frame.op === "ack" ? waiter.resolve(frame.message) : waiter.reject(new Error(frame.detail));
    } else if (frame.op === "notification" && this.onNotification) {
      this.onNotification(frame.notification);
    }
  }
  subscribe(channel, cb) {
    this.callbacks.set(channel, cb);
    this.ready.then(() => this.frame({ op: "subscribe", channel, after: 0 }));
  }
  unsubscribe(channel) { this.callbacks.delete(channel); this.frame({ op: "unsubscribe", channel }); }
  async send(channel, data) {
    await this.ready;
    const ref = `r${++this.refs}`;
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      this.frame({ op: "send", channel, content: data, ref });
    });
  }
}

// The factory: as the design's getRealtimeProvider, but chosen by ?transport= (or ?realtime=).
function createRealtimeProvider(kind, { api, token }) {
  switch (kind) {
    case "websocket": return new WebSocketProvider(token);
    case "sse": return new SSEProvider(api, token);
    case "long-poll": return new LongPollProvider(api);
    case "dynamic": return new PollingProvider(api, { dynamic: true });
    default: return new PollingProvider(api);
  }
}

// ---- the page

function setStatus(text) { document.getElementById("status").textContent = text; }

function render(message) {
  window.pollcap.received.push(message);
  const li = document.createElement("li");
  li.dataset.seq = message.seq;
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author.name;
  li.append(author, document.createTextNode(message.content));
  document.getElementById("messages").append(li);
}

async function signUp(name) {
  const key = `pollcap-token-${name}`;
  let token = sessionStorage.getItem(key);
  if (!token) {
    const resp = await fetch("/api/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
    if (!resp.ok) throw new Error(`sign-up failed: HTTP ${resp.status}`);
    token = (await resp.json()).token;
    sessionStorage.setItem(key, token);
  }
  return token;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const kind = params.get("transport") || params.get("realtime") || "polling";
  const channel = params.get("channel") || "general";
  const name = params.get("name") || `guest-${Math.floor(Math.random() * 1e6)}`;
  window.pollcap = { transport: kind, polls: 0, requests: {}, received: [], ready: false };
  document.getElementById("transport").textContent = kind;
  document.getElementById("channel").textContent = channel;
  const token = await signUp(name);
  const api = makeApi(token);
  const provider = createRealtimeProvider(kind, { api, token });
  window.pollcap.provider = provider;
  provider.subscribe(channel, render);
  const unread = (count) => { document.getElementById("unread").textContent = count; };
  if (provider instanceof WebSocketProvider) provider.onNotification = () => unread(Number(document.getElementById("unread").textContent) + 1);
  else useNotifications(api, unread);
  document.getElementById("send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("content");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    try { await provider.send(channel, text); } catch (err) { setStatus(`send failed: ${err.message}`); }
  });
  window.pollcap.ready = true;
}

main().catch((err) => setStatus(`failed: ${err.message}`));
