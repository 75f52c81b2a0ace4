// Haven moderator console: plain JavaScript, no build step.
// Every piece of text from the API is put on the page with textContent, never as HTML.

const POLL_MS = 2000;
const QUEUE_PAGE = 200;
const QUEUE_PAGES = 5; // the console lists at most this many pages of the queue
const $ = (id) => document.getElementById(id);

const state = { me: null, items: [], seen: new Set(), selected: null, detail: null, pollTimer: null };

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-Haven-Console"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401 && path !== "/console/session") signedOut(payload.detail);
    throw new ApiError(response.status, payload.detail || `Request failed (${response.status})`);
  }
  return payload;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function announce(text) {
  $("announcer").textContent = "";
  window.setTimeout(() => { $("announcer").textContent = text; }, 50);
}

// "you" for this moderator, otherwise their account name.
function who(moderatorId, name, fallback) {
  return moderatorId === state.me?.id ? "you" : (name || fallback);
}

function waited(isoTime) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(isoTime)) / 60000));
  if (minutes < 1) return "waiting under a minute";
  if (minutes < 90) return `waiting ${minutes} min`;
  return `waiting ${Math.round(minutes / 60)} h`;
}

// ---- signing in and out ----

function signedIn(me) {
  state.me = me;
  $("who-name").textContent = me.name || me.id;
  $("who-role").textContent = me.role;
  $("who").hidden = false;
  $("sign-in").hidden = true;
  $("desk").hidden = false;
  $("queue-heading").focus();
  refreshQueue();
  if (state.pollTimer === null) state.pollTimer = window.setInterval(refreshQueue, POLL_MS);
}

function signedOut(reason) {
  state.me = null;
  if (state.pollTimer !== null) window.clearInterval(state.pollTimer);
  state.pollTimer = null;
  state.seen.clear();
  $("who").hidden = true;
  $("desk").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = reason || "";
  $("token").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  $("token").value = "";
  try {
    signedIn(await api("POST", "/console/session", { token }));
  } catch (error) {
    $("sign-in-error").textContent = error.status === 403
      ? "That token is not a moderator's." : error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/console/session").catch(() => null);
  signedOut("You have signed out.");
});

// ---- the live queue ----

async function refreshQueue() {
  if (!state.me) return;
  let items;
  try {
    items = await wholeQueue();
  } catch (error) {
    if (error.status !== 401) $("queue-error").textContent = `Could not refresh the queue: ${error.message}`;
    return;
  }
  $("queue-error").textContent = "";
  const fresh = items.filter((item) => !state.seen.has(item.item_id));
  const firstLoad = state.seen.size === 0 && state.items.length === 0;
  for (const item of items) state.seen.add(item.item_id);
  state.items = items;
  renderQueue();
  $("queue-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  const urgent = fresh.filter((item) => item.level === "urgent").length;
  if (!firstLoad && urgent) announce(`${urgent} new urgent item${urgent > 1 ? "s" : ""} in the queue.`);
  if (state.selected && !items.some((item) => item.item_id === state.selected) && state.detail?.status === "open") {
    setStatus("This item has left the queue (someone else decided it).");
  }
}

// The API hands the queue out a page at a time, most urgent first.
async function wholeQueue() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < QUEUE_PAGES; page++) {
    const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const body = await api("GET", `/v1/mod/queue?limit=${QUEUE_PAGE}${after}`);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

function renderQueue() {
  const list = $("queue");
  list.replaceChildren(...state.items.map(queueEntry));
  $("queue-count").textContent = `(${state.items.length} open)`;
  $("queue-empty").hidden = state.items.length > 0;
}

function queueEntry(item) {
  const claim = item.claimed_by ? `claimed by ${who(item.claimed_by, item.claimed_by_name, "another moderator")}` : "unclaimed";
  const button = el("button", { type: "button", "data-item-id": item.item_id },
    el("span", { class: "badge", text: item.level.toUpperCase() }), " ",
    el("span", { text: `${item.status === "escalated" ? "escalated · " : ""}${waited(item.created_at)} · ${claim}` }),
    el("br"),
    el("span", { class: "muted", text: item.reasons.filter((r) => !r.startsWith("model:")).slice(0, 2).join("; ") || (item.reports.length ? `${item.reports.length} peer report(s)` : "held by the model") }),
  );
  if (item.item_id === state.selected) button.setAttribute("aria-current", "true");
  button.addEventListener("click", () => openItem(item.item_id));
  return el("li", { class: `level-${item.level}` }, button);
}

// ---- one item ----

function setStatus(text) { $("item-status").textContent = text; }

async function openItem(itemId) {
  state.selected = itemId;
  renderQueue();
  setStatus("");
  try {
    state.detail = await api("GET", `/v1/mod/items/${encodeURIComponent(itemId)}`);
  } catch (error) {
    setStatus(error.message);
    return;
  }
  renderItem(state.detail);
  fillTemplates(state.detail.message_templates);
  await loadItemAudit();
  $("item-heading").focus();
}

function renderItem(item) {
  $("item").hidden = false;
  $("item-heading").replaceChildren(el("span", { class: `badge level-${item.level}`, text: item.level.toUpperCase() }), ` Item on post ${item.post_id.slice(0, 8)}`);
  $("item-meta").textContent = `${item.status} · ${waited(item.created_at)} · risk ${item.verdict?.risk ?? "n/a"}` +
    (item.verdict?.categories?.length ? ` · ${item.verdict.categories.join(", ")}` : "");
  $("item-claim").textContent = item.claimed_by
    ? `Claimed by ${who(item.claimed_by, item.claimed_by_name, "another moderator")} until ${new Date(item.claimed_until).toLocaleTimeString()}`
    : "Nobody has claimed this item.";
  $("item-title").textContent = item.erased_author ? "(the author erased their identity)" : (item.title || "(a reply)");
  $("item-body").replaceChildren(...highlighted(item.body || "", item.highlights || []));
  $("item-reasons").replaceChildren(...item.reasons.map((reason) => el("li", { text: reason })));
  $("item-reports-block").hidden = item.reports.length === 0;
  $("item-reports").replaceChildren(...item.reports.map((r) => el("li", { text: r.note ? `${r.reason}: ${r.note}` : r.reason })));
  $("item-resources").replaceChildren(...(item.resources.length ? item.resources.map(resourceEntry) : [el("li", { text: "None were sent." })]));
  const decided = item.status === "decided";
  const adminsOnly = item.status === "escalated" && state.me.role !== "admin";
  for (const id of ["claim", "approve", "remove", "escalate"]) $(id).disabled = decided || adminsOnly;
  $("send-message").disabled = decided || item.erased_author;
  $("claim").textContent = item.claimed_by === state.me.id ? "Renew claim" : "Claim";
  if (adminsOnly) $("item-claim").textContent = "Escalated: waiting for an admin to take it.";
}

function resourceEntry(resource) {
  const hours = resource.hours ? ` (${resource.hours})` : "";
  return el("li", {},
    el("strong", { text: resource.name }), `: ${resource.contact}${hours} `,
    el("span", { class: "muted", text: `[${resource.country}, source: ${resource.source}]` }));
}

// Marks each phrase the rules matched; the rest of the post stays plain text.
function highlighted(text, phrases) {
  const lower = text.toLowerCase();
  const ranges = [];
  for (const phrase of phrases) {
    const needle = phrase.toLowerCase();
    if (!needle) continue;
    for (let at = lower.indexOf(needle); at !== -1; at = lower.indexOf(needle, at + needle.length)) {
      ranges.push([at, at + needle.length]);
    }
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const nodes = [];
  let cursor = 0;
  for (const [start, end] of ranges) {
    if (start < cursor) continue;
    nodes.push(text.slice(cursor, start), el("mark", { text: text.slice(start, end) }));
    cursor = end;
  }
  nodes.push(text.slice(cursor));
  return nodes;
}

function fillTemplates(templates) {
  const select = $("template");
  select.replaceChildren(el("option", { value: "", text: "(write your own)" }),
    ...templates.map((t) => el("option", { value: t.id, text: t.label })));
  select.onchange = () => {
    const chosen = templates.find((t) => t.id === select.value);
    if (chosen) $("message-text").value = chosen.text;
  };
  select.value = templates.length ? templates[0].id : "";
  select.onchange();
}

async function act(label, method, path, body) {
  setStatus(`${label}…`);
  try {
    const result = await api(method, path, body);
    setStatus(`${label}: done.`);
    return result;
  } catch (error) {
    setStatus(`${label} failed: ${error.message}`);
    return null;
  }
}

$("claim").addEventListener("click", async () => {
  const item = await act("Claim", "POST", `/v1/mod/items/${encodeURIComponent(state.selected)}/claim`);
  if (item) { state.detail = { ...state.detail, ...item }; renderItem(state.detail); await loadItemAudit(); refreshQueue(); }
});

for (const id of ["approve", "remove", "escalate"]) {
  $(id).addEventListener("click", async (event) => {
    const decision = event.currentTarget.dataset.decision;
    const item = await act(event.currentTarget.textContent, "POST",
      `/v1/mod/items/${encodeURIComponent(state.selected)}/decision`, { decision, note: $("note").value });
    if (item) {
      state.detail = { ...state.detail, ...item };
      renderItem(state.detail);
      $("note").value = "";
      await loadItemAudit();
      await refreshQueue();
      announce(decision === "escalate" ? "Escalated to admins." : `Decided: ${decision}. The item has left the queue.`);
    }
  });
}

$("send-message").addEventListener("click", async () => {
  const text = $("message-text").value.trim();
  if (!text) { setStatus("Write a message first."); $("message-text").focus(); return; }
  const sent = await act("Message to the author", "POST", `/v1/mod/items/${encodeURIComponent(state.selected)}/message`, { text });
  if (sent) await loadItemAudit();
});

// ---- the audit trail ----

function auditEntry(entry) {
  const note = entry.note ? `: ${entry.note}` : "";
  // Entries the queue writes itself (a report reopening a decided post) have no moderator.
  const by = entry.moderator_id ? who(entry.moderator_id, entry.moderator_name, entry.moderator_id.slice(0, 8)) : "the queue";
  return el("li", { text: `${new Date(entry.at).toLocaleString()} · ${by} · ${entry.action}${note}` });
}

async function loadItemAudit() {
  if (!state.selected) return;
  const { items } = await api("GET", `/v1/mod/audit?item_id=${encodeURIComponent(state.selected)}`).catch(() => ({ items: [] }));
  $("item-audit").replaceChildren(...items.map(auditEntry));
}

$("audit-details").addEventListener("toggle", async () => {
  if (!$("audit-details").open) return;
  const { items } = await api("GET", "/v1/mod/audit").catch(() => ({ items: [] }));
  $("audit").replaceChildren(...items.slice(-100).reverse().map((entry) => {
    const line = auditEntry(entry);
    line.prepend(`${entry.post_id.slice(0, 8)} · `);
    return line;
  }));
});

// ---- start ----

api("GET", "/console/session").then(signedIn, () => signedOut(""));
