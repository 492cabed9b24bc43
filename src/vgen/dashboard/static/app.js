// The dashboard (API.md §8): sign in, create, watch, play, cancel, usage and admin keys.
import { loadKeys, createKey } from "./admin.js";
import { ApiError, call, callJson, contentUrl, retryAfter, session, upload } from "./api.js";
import { $, clearErrors, el, showError } from "./dom.js";
import { loadUsage } from "./usage.js";

const ACTIVE = new Set(["queued", "processing"]);
const IDLE_POLL_S = 10;
const state = { models: [], tasks: new Map(), order: [], hasMore: false, selected: null,
  timer: null, blobs: [], detailKey: "", keyId: null };

/** The status word of API.md §8, from the two dialects' bodies of one task. */
function statusWord(veo, openai) {
  if (openai?.error?.code === "cancelled") return "cancelled";
  if (veo) return veo.status;
  return openai.status === "in_progress" ? "processing" : openai.status;
}

function age(seconds) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function shorten(text, n = 80) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

// ---- sign in / out -------------------------------------------------------------------------

async function signIn(key) {
  const me = await callJson("/dashboard/session.json", { key });
  session.key = key;
  state.models = me.models;
  state.keyId = me.key.id;
  $("who").textContent = `${me.key.name} · ${me.key.tenant_id}`;
  $("nav-admin").hidden = !me.key.admin;
  $("sign-in-view").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  fillModels();
  show("tasks");
  await refresh();
}

function signOut() {
  session.key = null;
  clearTimeout(state.timer);
  closeDetail();
  state.tasks.clear();
  state.order = [];
  $("task-list").replaceChildren();
  $("api-key").value = "";
  for (const id of ["tasks-view", "usage-view", "admin-view", "nav", "sign-out"]) $(id).hidden = true;
  $("who").textContent = "";
  $("sign-in-view").hidden = false;
  $("api-key").focus();
}

function show(view) {
  for (const name of ["tasks", "usage", "admin"]) {
    $(`${name}-view`).hidden = name !== view;
    const tab = document.querySelector(`[data-view="${name}"]`);
    if (name === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (view === "usage") loadUsage().catch(report);
  if (view === "admin") loadKeys(state.keyId, report).catch(report);
}

// ---- create --------------------------------------------------------------------------------

function fillModels() {
  $("model").replaceChildren(...state.models.map((m) => el("option", { value: m.id }, m.id)));
  fillModelOptions();
}

function fillModelOptions() {
  const model = state.models.find((m) => m.id === $("model").value);
  if (!model) return;
  const keep = (select, values, fallback) => {
    const old = select.value;
    select.replaceChildren(...values.map((v) => el("option", { value: String(v) }, String(v))));
    select.value = values.map(String).includes(old) ? old : String(fallback);
  };
  keep($("resolution"), model.resolutions, model.resolutions.includes("720p") ? "720p" : model.resolutions[0]);
  keep($("duration"), model.durations, model.default_duration);
}

async function imageRef(fileInput, urlInput) {
  const file = fileInput.files[0];
  if (file) return upload(file);
  return urlInput.value.trim() || null;
}

async function createBody() {
  const body = {
    model: $("model").value,
    prompt: $("prompt").value,
    resolution: $("resolution").value,
    aspect_ratio: $("aspect-ratio").value,
    duration: Number($("duration").value),
  };
  const mode = $("image-mode").value;
  if (mode === "frames") {
    const first = await imageRef($("first-file"), $("first-url"));
    const last = await imageRef($("last-file"), $("last-url"));
    if (first) body.first_image = first;
    if (last) body.last_image = last;
  } else if (mode === "references") {
    const refs = [];
    for (const file of $("ref-files").files) refs.push(await upload(file));
    refs.push(...$("ref-urls").value.split("\n").map((s) => s.trim()).filter(Boolean));
    body.input_reference = refs;
  }
  return body;
}

async function create(event) {
  event.preventDefault();
  const form = $("create");
  clearErrors(form);
  $("generate").disabled = true;
  $("create-status").textContent = "";
  try {
    const task = await callJson("/v1/veo/videos", { method: "POST", json: await createBody() });
    $("create-status").textContent = `Created ${task.id}`;
    await refresh();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showError(error, "create-error");
  } finally {
    $("generate").disabled = false;
  }
}

// ---- task list -----------------------------------------------------------------------------

async function fetchPage(limit, after) {
  const query = `limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}`;
  const [veo, openai] = await Promise.all([
    callJson(`/v1/veo/videos?${query}`),
    callJson(`/v1/videos?${query}`),
  ]);
  const byId = new Map(openai.data.map((v) => [v.id, v]));
  return { tasks: veo.data.map((v) => ({ veo: v, openai: byId.get(v.id) })), veo };
}

function upsert(entry) {
  const { veo, openai } = entry;
  const word = statusWord(veo, openai);
  state.tasks.set(veo.id, { ...entry, word });
  let item = document.querySelector(`li[data-id="${veo.id}"]`);
  if (!item) {
    const button = el("button", { type: "button", "aria-describedby": `row-${veo.id}` });
    button.addEventListener("click", () => openDetail(veo.id));
    item = el("li", { "data-id": veo.id, id: `row-${veo.id}` }, button);
  }
  const button = item.querySelector("button");
  const parts = [
    el("span", { class: "task-prompt" }, shorten(openai?.prompt || "")),
    el("span", { class: `status ${word}` }, word),
    el("span", { class: "task-meta" },
      el("span", { class: "task-id" }, veo.id), ` · ${veo.model} · ${veo.engine || "—"} · ${age(veo.created)}`),
  ];
  if (word === "processing") {
    parts.push(el("progress", { max: "100", value: String(veo.progress || 0), "aria-label": `Progress ${veo.progress || 0}%` }));
  }
  button.replaceChildren(...parts);
  item.classList.toggle("selected", state.selected === veo.id);
  return item;
}

function renderList() {
  const items = state.order.map((id) => document.querySelector(`li[data-id="${id}"]`));
  $("task-list").replaceChildren(...items.filter(Boolean));
  $("list-empty").hidden = state.order.length > 0;
  $("more").hidden = !state.hasMore;
}

/** Reload the pages shown so far (newest first), then schedule the next poll. */
async function refresh() {
  clearTimeout(state.timer);
  let delay = IDLE_POLL_S;
  try {
    const limit = Math.min(100, Math.max(20, state.order.length));
    const page = await fetchPage(limit, null);
    const items = page.tasks.map(upsert);
    state.order = page.tasks.map((t) => t.veo.id);
    state.hasMore = page.veo.has_more;
    $("task-list").replaceChildren(...items);
    renderList();
    delay = await pollHint(page.tasks);
    if (state.selected && state.tasks.has(state.selected)) await renderDetail(state.selected);
    else if (state.selected) closeDetail();
    $("list-error")?.remove();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) return signOut();
    delay = error.retryAfterS ?? IDLE_POLL_S;
  } finally {
    if (session.key) state.timer = setTimeout(() => refresh().catch(report), delay * 1000);
  }
}

/** While a task is active, its status poll's Retry-After says when to look again. */
async function pollHint(tasks) {
  const active = tasks.find((t) => ACTIVE.has(t.veo.status));
  if (!active) return IDLE_POLL_S;
  const response = await call(`/v1/result/${encodeURIComponent(active.veo.id)}`);
  return retryAfter(response, 2);
}

async function loadMore() {
  const after = state.order[state.order.length - 1];
  const page = await fetchPage(20, after);
  for (const task of page.tasks) {
    upsert(task);
    state.order.push(task.veo.id);
  }
  state.hasMore = page.veo.has_more;
  const items = state.order.map((id) => document.querySelector(`li[data-id="${id}"]`) || upsert(state.tasks.get(id)));
  $("task-list").replaceChildren(...items);
  renderList();
}

// ---- task detail ---------------------------------------------------------------------------

function forgetBlobs() {
  for (const url of state.blobs) URL.revokeObjectURL(url);
  state.blobs = [];
}

async function openDetail(id) {
  state.selected = id;
  state.detailKey = "";
  for (const li of $("task-list").children) li.classList.toggle("selected", li.dataset.id === id);
  $("detail").hidden = false;
  await renderDetail(id);
  $("detail").focus();
}

function closeDetail() {
  state.selected = null;
  state.detailKey = "";
  forgetBlobs();
  $("detail-media").replaceChildren();
  $("detail").hidden = true;
}

async function renderDetail(id) {
  const { veo, openai, word } = state.tasks.get(id);
  $("detail-title").textContent = `Task ${id}`;
  const status = $("detail-status");
  status.textContent = word;
  status.className = `status ${word}`;
  $("detail-progress").hidden = word !== "processing";
  $("detail-progress").value = veo.progress || 0;
  $("detail-error").textContent = word === "failed" ? (openai?.error?.message || veo.error || "") : "";
  $("cancel").hidden = !ACTIVE.has(word);
  const rows = [
    ["Id", id], ["Prompt", openai?.prompt || ""], ["Model", veo.model], ["Engine", veo.engine || "—"],
    ["Size", openai?.size || ""], ["Seconds", openai?.seconds || ""],
    ["Created", new Date(veo.created * 1000).toLocaleString()],
    ["Completed", veo.completed_at ? new Date(veo.completed_at * 1000).toLocaleString() : "—"],
  ];
  $("detail-request").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  await renderRaw();
  const key = `${id}:${word}`;
  if (key === state.detailKey) return;
  state.detailKey = key;
  forgetBlobs();
  $("detail-media").replaceChildren();
  if (word === "completed") await renderMedia(id);
}

async function renderMedia(id) {
  const [video, thumb] = await Promise.all([contentUrl(id, "video"), contentUrl(id, "thumbnail")]);
  state.blobs.push(video, thumb);
  if (state.selected !== id) return;
  const player = el("video", { controls: "", muted: "", playsinline: "", preload: "auto", src: video, "aria-label": `Video of ${id}` });
  player.muted = true;
  const link = el("a", { href: video, download: `${id}.mp4` }, "Download");
  $("detail-media").replaceChildren(
    player,
    el("figure", {}, el("img", { src: thumb, alt: `Thumbnail of ${id}` }), el("figcaption", { class: "hint" }, "Thumbnail")),
    el("div", { class: "actions" }, link),
  );
}

async function renderRaw() {
  const id = state.selected;
  if (!id) return;
  const path = $("dialect").value === "openai" ? `/v1/videos/${id}` : `/v1/result/${id}`;
  $("raw").textContent = JSON.stringify(await callJson(path), null, 2);
}

async function cancelSelected() {
  await act(() => call(`/v1/veo/videos/${state.selected}/cancel`, { method: "POST" }));
}

async function deleteSelected() {
  const id = state.selected;
  try {
    await call(`/v1/videos/${id}`, { method: "DELETE" });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("detail-error").textContent = error.message;
    return;
  }
  // Closed before the list reloads, so nothing asks for the task that is gone.
  closeDetail();
  document.querySelector(`li[data-id="${id}"]`)?.remove();
  await refresh();
}

async function act(operation) {
  $("detail-error").textContent = "";
  try {
    await operation();
    await refresh();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("detail-error").textContent = error.message;
  }
}

// ---- wiring --------------------------------------------------------------------------------

function report(error) {
  // Shown to the user instead of an uncaught rejection in the console.
  const note = $("list-error") || el("p", { id: "list-error", class: "error", role: "alert" });
  note.textContent = error instanceof ApiError ? error.message : `Network error: ${error.message}`;
  $("task-list").before(note);
  if (session.key && !$("tasks-view").hidden) {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => refresh().catch(report), IDLE_POLL_S * 1000);
  }
}

function modeChanged() {
  const mode = $("image-mode").value;
  $("frames").hidden = mode !== "frames";
  $("references").hidden = mode !== "references";
}

function init() {
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    const key = $("api-key").value.trim();
    signIn(key).catch((error) => {
      session.key = null;
      $("sign-in-error").textContent = error.message;
    });
  });
  $("sign-out").addEventListener("click", signOut);
  for (const tab of document.querySelectorAll("[data-view]")) {
    tab.addEventListener("click", () => show(tab.dataset.view));
  }
  $("create").addEventListener("submit", (event) => create(event).catch(report));
  $("model").addEventListener("change", fillModelOptions);
  $("image-mode").addEventListener("change", modeChanged);
  $("more").addEventListener("click", () => loadMore().catch(report));
  $("cancel").addEventListener("click", () => cancelSelected().catch(report));
  $("delete").addEventListener("click", () => deleteSelected().catch(report));
  $("close-detail").addEventListener("click", closeDetail);
  $("dialect").addEventListener("change", () => renderRaw().catch(report));
  $("new-key").addEventListener("submit", (event) => createKey(event, state.keyId, report).catch(report));
  if (session.key) signIn(session.key).catch(signOut);
  else $("api-key").focus();
}

init();
