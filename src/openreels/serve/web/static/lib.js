// Shared by every page: the API client, job progress from server-sent events, errors next to their
// control, and a tiny element builder. Plain ES modules: the browser loads them as they are.

const TOKEN_KEY = "openreels.token";

export const token = () => localStorage.getItem(TOKEN_KEY) || "";
export const setToken = (value) => localStorage.setItem(TOKEN_KEY, value.trim());

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// Every call sends the bearer token; an error answer ({"error": "..."}) becomes an ApiError with its line.
export async function api(path, { method = "GET", json, form } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body });
  } catch {
    throw new ApiError("the server cannot be reached; is `openreels serve` still running?", 0);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError((data && data.error) || `${res.status} ${res.statusText}`, res.status);
  return data;
}

// <video>, <img>, <audio>, EventSource and download links cannot send headers: GET routes take the token here.
export function withToken(url, bust) {
  const sep = url.includes("?") ? "&" : "?";
  return `${url}${sep}access_token=${encodeURIComponent(token())}${bust ? `&v=${bust}` : ""}`;
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let uid = 0;
// A labelled form field: returns the wrapper; the control is `field.control`.
export function field(label, control, hint) {
  control.id ||= `f${++uid}`;
  const wrap = h("div", { class: "field" }, h("label", { for: control.id }, label), control);
  if (hint) wrap.append(h("small", { class: "hint" }, hint));
  wrap.control = control;
  return wrap;
}

export function select(options, value, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: String(v) === String(value ?? "") }, text);
    }),
  );
}

// --- errors next to the control that caused them ---------------------------------------------------------
function slotFor(control) {
  const holder = control.closest(".field") || control.parentElement;
  let slot = holder.querySelector(":scope > .error");
  if (!slot) {
    slot = h("p", { class: "error", role: "alert" });
    holder.append(slot);
  }
  return slot;
}

export function showError(control, message) {
  const slot = slotFor(control);
  slot.textContent = message;
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-describedby", (slot.id ||= `e${++uid}`));
}

export function clearErrors(root) {
  root.querySelectorAll(".error").forEach((e) => e.remove());
  root.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
}

// A 422 names the field it is about ("caption.shot_type: ..."); put it by the control whose data-path
// ends with that name, else by the button that sent the request.
export function placeError(root, err, fallback) {
  const match = /^([\w.]+): /.exec(err.message);
  if (match) {
    const where = match[1].split(".").filter((p) => !/^\d+$/.test(p)).join(".");
    const target = [...root.querySelectorAll("[data-path]")].find(
      (c) => where === c.dataset.path || where.endsWith(`.${c.dataset.path}`),
    );
    if (target) return showError(target, err.message);
  }
  showError(fallback, err.message);
}

// Runs an action for a button: disabled while it runs; an API error is shown by the field it names, else
// by `target` (default: the button).
export async function act(button, action, root, target) {
  const scope = root || button.parentElement;
  clearErrors(scope);
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    placeError(scope, err, target || button);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// --- page lifetime ---------------------------------------------------------------------------------------
const leaving = [];
export const onLeave = (fn) => leaving.push(fn);
export function leave() {
  while (leaving.length) leaving.pop()();
}

// --- jobs ------------------------------------------------------------------------------------------------
export const FINAL = ["done", "failed", "cancelled"];

// Where each stage sits in a job's overall bar, so the bar only moves forward.
const SPANS = {
  plan: { voices: [0, 1] },
  render: { voices: [0, 0.15], shots: [0.15, 0.85], cut: [0.85, 1] },
  shot: { voices: [0, 0.2], shots: [0.2, 1], loading: [0.2, 0.3], denoising: [0.3, 1] },
  any: { loading: [0, 0.1], denoising: [0.1, 1] },
};

export function percent(job) {
  if (job.state === "done") return 100;
  const p = job.progress;
  if (!p || !p.total) return 0;
  const span = (SPANS[job.kind] || SPANS.any)[p.stage] || SPANS.any[p.stage] || [0, 1];
  return Math.floor(100 * (span[0] + (span[1] - span[0]) * Math.min(1, p.done / p.total)));
}

export function describe(job) {
  if (job.state !== "running" || !job.progress) return job.state === "failed" ? `failed: ${job.error}` : job.state;
  const p = job.progress;
  const parts = [`${p.stage} ${p.done}/${p.total}`];
  if (p.shot) parts.push(`shot ${p.shot}`);
  if (p.window) parts.push(`window ${p.window}`);
  if (p.eta_s !== null && p.eta_s !== undefined) parts.push(`about ${Math.ceil(p.eta_s)} s left`);
  return parts.join(" · ");
}

// Follows a job over server-sent events until it is final; resolves with the final job.
export function watch(job, onUpdate) {
  return new Promise((resolve) => {
    if (FINAL.includes(job.state)) {
      onUpdate(job);
      resolve(job);
      return;
    }
    const source = new EventSource(withToken(`/api/v1/jobs/${job.id}/events`));
    const finish = (ev) => {
      source.close();
      const last = JSON.parse(ev.data);
      onUpdate(last);
      resolve(last);
    };
    source.addEventListener("progress", (ev) => onUpdate(JSON.parse(ev.data)));
    FINAL.forEach((state) => source.addEventListener(state, finish));
    onLeave(() => source.close());
  });
}

const LABELS = { plan: "Planning", render: "One-Click Video", shot: "To Video", generate: "Generate", animate: "Animate", compose: "Compose" };

// A progress row for a job (bar, percent, stage, cancel); resolves with the final job.
export function progressRow(job, into) {
  const bar = h("progress", { max: 100, value: 0 });
  const pct = h("span", { class: "pct" }, "0%");
  const what = h("span", { class: "what" }, job.state);
  const cancel = h("button", { type: "button", class: "quiet" }, "Cancel");
  const row = h(
    "div",
    { class: "job", dataset: { job: job.id, kind: job.kind }, role: "status", "aria-live": "polite" },
    h("strong", {}, LABELS[job.kind] || job.kind),
    bar,
    pct,
    what,
    cancel,
  );
  cancel.addEventListener("click", () => act(cancel, () => api(`/jobs/${job.id}/cancel`, { method: "POST" })));
  into.prepend(row);
  let shown = 0;
  return watch(job, (j) => {
    shown = Math.max(shown, percent(j));
    bar.value = shown;
    pct.textContent = `${shown}%`;
    what.textContent = describe(j);
    row.dataset.state = j.state;
    if (FINAL.includes(j.state)) cancel.remove();
  });
}

export const fmtSeconds = (s) => `${Number(s).toFixed(1)} s`;
