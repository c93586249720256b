// The task-based UI: one form per command of the domain (from the JSON in index.html).
// A submit builds the command DTO with a client-made command id, shows its effect at
// once (optimistic), sends it to POST /commands, and settles it when the WebSocket
// confirms it (the read model has applied it: its entry replaces the optimistic one) or
// rejects it (the optimistic change is rolled back). A second submit of the same command
// id is answered 409 and shown as "already submitted".
"use strict";

const SPEC = JSON.parse(document.getElementById("spec").textContent);

// Per aggregate type: confirmed entries of the read model, by aggregate id.
const confirmed = new Map();
// Commands not settled yet, in submit order: command id -> {agg, id, cmd, dto}.
const pending = new Map();
// Every command sent, by command id, with its log entry.
const sent = new Map();

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function words(name) {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
}

function newId(prefix) {
  const r = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9-]/g, "");
  return prefix ? prefix + "-" + r.slice(0, 8) : r;
}

// The state change an accepted command makes (the event's set/copy/add/append/count).
function applyOps(entry, cmd, dto) {
  const e = Object.assign({}, entry);
  for (const op of cmd.ops) {
    if (op.kind === "set") e[op.target] = op.value;
    else if (op.kind === "copy") e[op.target] = dto[op.from];
    else if (op.kind === "add") e[op.target] = (Number(e[op.target]) || 0) + op.factors.reduce((p, f) => p * (Number(dto[f]) || 0), 1);
    else if (op.kind === "append") e[op.target] = e[op.target] ? e[op.target] + " " + dto[op.from] : String(dto[op.from]);
    else if (op.kind === "count") e[op.target] = (Number(e[op.target]) || 0) + 1;
  }
  e.version = (Number(e.version) || 0) + 1;
  return e;
}

// What the list shows: the confirmed entry with every pending command applied on top.
function shown(agg, id) {
  let entry = confirmed.get(agg.type).get(id);
  let isPending = false;
  for (const p of pending.values()) {
    if (p.agg === agg && p.id === id) {
      entry = applyOps(entry || { id: id, version: 0 }, p.cmd, p.dto);
      isPending = true;
    }
  }
  return entry ? { entry, isPending } : null;
}

function renderRow(agg, id) {
  const body = document.querySelector(`tbody[data-aggregate="${CSS.escape(agg.type)}"]`);
  if (!body) return;
  let row = body.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  const s = shown(agg, id);
  if (!s) {
    if (row) row.remove();
    return;
  }
  if (!row) {
    row = el("tr", { "data-id": id });
    body.prepend(row);
  }
  row.replaceChildren(
    el("td", { class: "id", text: id }),
    ...columns(agg).map((f) => el("td", { "data-field": f, text: s.entry[f] === undefined ? "" : String(s.entry[f]) })),
    el("td", { class: "version", text: String(s.entry.version ?? "") }),
    el("td", { class: "state", text: s.isPending ? "pending" : "confirmed" }),
  );
  row.dataset.state = s.isPending ? "pending" : "confirmed";
  const list = document.getElementById("ids-" + agg.type);
  if (list && !list.querySelector(`option[value="${CSS.escape(id)}"]`)) list.append(el("option", { value: id }));
}

function columns(agg) {
  return agg.view ? agg.view.fields : agg.state.map((f) => f.name);
}

function logEntry(commandId, cmd, dto, agg) {
  const status = el("span", { class: "status", text: "pending" });
  const again = el("button", { type: "button", class: "again", text: "Send again" });
  const li = el("li", { "data-command-id": commandId, "data-status": "pending" },
    el("code", { text: cmd.name }), " " + dto[agg.id] + " — ", status, again);
  again.addEventListener("click", () => send(commandId, true));
  document.getElementById("log").prepend(li);
  return li;
}

function setStatus(commandId, status, text) {
  const s = sent.get(commandId);
  if (!s) return;
  // A confirmation or rejection is final; an HTTP answer that arrives later changes nothing.
  if (["confirmed", "rejected"].includes(s.li.dataset.status) && status === "accepted") return;
  s.li.dataset.status = status;
  s.li.querySelector(".status").textContent = text;
}

// Settles a command: confirmed (the read model's entry is the truth now) or rolled back.
function settle(commandId, status, text, item) {
  const p = pending.get(commandId);
  const s = sent.get(commandId);
  pending.delete(commandId);
  if (s && item && item.id !== undefined) {
    const known = confirmed.get(s.agg.type).get(item.id);
    if (!known || (Number(item.version) || 0) >= (Number(known.version) || 0)) confirmed.get(s.agg.type).set(item.id, item);
  }
  setStatus(commandId, status, text);
  if (p) renderRow(p.agg, p.id);
}

async function send(commandId, again) {
  const s = sent.get(commandId);
  const headers = { "content-type": "application/json" };
  const token = document.getElementById("token").value.trim();
  if (token) headers.authorization = "Bearer " + token;
  if (again) setStatus(commandId, "resent", "sent again");
  let resp, body;
  try {
    resp = await fetch("/commands", { method: "POST", headers, body: JSON.stringify(s.dto) });
    body = await resp.json().catch(() => ({}));
  } catch (err) {
    if (!again) settle(commandId, "error", "not sent: " + err.message);
    return;
  }
  if (resp.status === 202) {
    setStatus(commandId, "accepted", "accepted, waiting for the read model");
  } else if (resp.status === 409 && body.status === "duplicate") {
    // The first submit stands; this one changes nothing.
    setStatus(commandId, "duplicate", "already submitted");
  } else if (!again) {
    const why = (body.field ? body.field + ": " : "") + (body.error || resp.statusText);
    settle(commandId, resp.status === 401 ? "error" : "rejected", (resp.status === 401 ? "unauthorized: " : "rejected: ") + why);
  } else {
    setStatus(commandId, "rejected", "rejected: " + (body.error || resp.statusText));
  }
}

function submit(agg, cmd, form) {
  const dto = { command_id: newId(""), command: cmd.slug };
  const idInput = form.elements.namedItem(agg.id);
  dto[agg.id] = idInput.value.trim();
  for (const f of cmd.fields) {
    const v = form.elements.namedItem(f.name).value;
    dto[f.name] = f.int ? (v === "" ? v : Number(v)) : v;
  }
  const li = logEntry(dto.command_id, cmd, dto, agg);
  sent.set(dto.command_id, { agg, cmd, dto, li });
  pending.set(dto.command_id, { agg, cmd, dto, id: dto[agg.id] });
  renderRow(agg, dto[agg.id]);
  if (cmd.creates) idInput.value = newId(agg.name.toLowerCase());
  send(dto.command_id, false);
}

function buildForms() {
  const tasks = document.getElementById("tasks");
  const models = document.getElementById("models");
  for (const agg of SPEC.aggregates) {
    confirmed.set(agg.type, new Map());
    tasks.append(el("datalist", { id: "ids-" + agg.type }));
    for (const cmd of agg.commands) {
      const form = el("form", { "data-command": cmd.slug }, el("h3", { text: words(cmd.name) }));
      const idInput = el("input", { name: agg.id, required: "", list: "ids-" + agg.type });
      if (cmd.creates) idInput.value = newId(agg.name.toLowerCase());
      form.append(el("label", { text: words(agg.id) + " " }, idInput));
      for (const f of cmd.fields) {
        const input = el("input", { name: f.name, type: f.int ? "number" : "text" });
        if (f.int) input.setAttribute("step", "1");
        form.append(el("label", { text: words(f.name) + " " }, input));
      }
      form.append(el("button", { type: "submit", text: words(cmd.name) }));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        submit(agg, cmd, form);
      });
      tasks.append(form);
    }
    const head = el("tr", {}, el("th", { text: words(agg.id) }),
      ...columns(agg).map((f) => el("th", { text: words(f) })),
      el("th", { text: "version" }), el("th", { text: "state" }));
    models.append(el("h2", { text: agg.view ? words(agg.view.slug) : words(agg.name) }),
      el("table", {}, el("thead", {}, head), el("tbody", { "data-aggregate": agg.type })));
  }
}

async function loadViews() {
  for (const agg of SPEC.aggregates) {
    if (!agg.view) continue;
    try {
      const resp = await fetch(`/views/${agg.view.slug}?limit=1000`);
      const page = await resp.json();
      for (const item of page.items || []) {
        const known = confirmed.get(agg.type).get(item.id);
        if (!known || (Number(item.version) || 0) >= (Number(known.version) || 0)) confirmed.get(agg.type).set(item.id, item);
        renderRow(agg, item.id);
      }
    } catch (err) {
      console.warn("loading", agg.view.slug, err);
    }
  }
}

let retry = 250;
function connect() {
  const state = document.getElementById("connection");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => {
    ws.send(JSON.stringify({ subscribe: "*" }));
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (err) { return; }
    if (m.type === "subscribed") {
      state.dataset.state = "open";
      state.textContent = "live";
      retry = 250;
      loadViews();
    } else if (m.type === "confirmation") {
      const agg = SPEC.aggregates.find((a) => a.type === m.aggregate_type);
      if (m.command_id && sent.has(m.command_id)) {
        if (m.status === "confirmed") settle(m.command_id, "confirmed", "confirmed", m.item);
        else settle(m.command_id, "rejected", "rejected: " + (m.field ? m.field + ": " : "") + m.error);
      } else if (agg && m.status === "confirmed" && m.item) {
        // Another tab's or client's command: the read model changed.
        const known = confirmed.get(agg.type).get(m.item.id);
        if (!known || (Number(m.item.version) || 0) >= (Number(known.version) || 0)) confirmed.get(agg.type).set(m.item.id, m.item);
        renderRow(agg, m.item.id);
      }
    } else if (m.type === "lagged") {
      loadViews();
    }
  };
  ws.onclose = () => {
    state.dataset.state = "closed";
    state.textContent = "reconnecting";
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  };
}

const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem("token") || "";
tokenInput.addEventListener("change", () => sessionStorage.setItem("token", tokenInput.value.trim()));
if (location.hash.startsWith("#token=")) {
  tokenInput.value = decodeURIComponent(location.hash.slice(7));
  sessionStorage.setItem("token", tokenInput.value);
  history.replaceState(null, "", location.pathname);
}
buildForms();
connect();
