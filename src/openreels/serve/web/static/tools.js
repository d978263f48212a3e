// Single-shot tools: generate, animate and compose, each showing its video and its JSON sidecar.
import { ApiError, act, api, field, h, progressRow, select, withToken } from "./lib.js";

let models = null;
const ASPECTS = [["", "the model's own"], ["9:16", "9:16 vertical"], ["16:9", "16:9 wide"], ["1:1", "1:1 square"]];

function modelPicker(task) {
  const mine = models.filter((m) => m.tasks.includes(task));
  return select(mine.map((m) => [m.id, `${m.id} (${m.size[0]}x${m.size[1]}, ${m.frames} frames)`]), mine[0]?.id, { dataset: { path: "model" } });
}

const sizeOf = (modelId, aspect) => {
  const m = models.find((x) => x.id === modelId);
  return aspect && m ? m.sizes[aspect] : undefined;
};

// Uploads a chosen file (checked by the server by decoding it); an error lands next to that input.
async function upload(input) {
  if (!input.files.length) return undefined;
  const form = new FormData();
  form.append("file", input.files[0]);
  try {
    return (await api("/uploads", { method: "POST", form })).id;
  } catch (err) {
    if (err instanceof ApiError) err.message = `${input.dataset.path}: ${err.message}`;
    throw err;
  }
}

async function showResult(job, into) {
  const files = job.result?.files || [];
  const out = [];
  for (const f of files.filter((x) => x.name.endsWith(".mp4"))) {
    const sidecar = files.find((x) => x.name === f.name.replace(/\.mp4$/, ".json"));
    const text = sidecar ? JSON.stringify(await fetch(withToken(sidecar.url)).then((r) => r.json()), null, 2) : "";
    out.push(h("figure", { class: "result" },
      h("video", { src: withToken(f.url), controls: true, autoplay: true, muted: true, loop: true, playsinline: true }),
      h("figcaption", {}, h("a", { href: withToken(f.url), download: f.name }, `Download ${f.name}`)),
      text ? h("details", { open: true }, h("summary", {}, `Sidecar ${sidecar.name}`), h("pre", { class: "sidecar" }, text)) : null));
  }
  into.replaceChildren(...out);
}

function tool(title, controls, submit) {
  const go = h("button", { type: "submit", class: "primary" }, title);
  const jobs = h("div", { class: "jobs" });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const form = h("form", { class: "panel tool" }, h("h1", {}, title), controls, h("div", { class: "actions" }, go), jobs);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(go, async () => {
      const job = await progressRow(await submit(), jobs);
      if (job.state === "done") await showResult(job, results);
    }, form);
  });
  return [form, results];
}

const number = (path, value, attrs = {}) => h("input", { type: "number", value: value === undefined ? "" : String(value), dataset: { path }, ...attrs });

function generateTool() {
  const prompt = h("textarea", { rows: 3, required: true, dataset: { path: "prompt" }, placeholder: "Medium shot, eye level, static shot. A woman with long red hair in a blue shirt is laughing…" });
  const model = modelPicker("t2v");
  const aspect = select(ASPECTS, "", { dataset: { path: "size" } });
  const image = h("input", { type: "file", accept: "image/*", dataset: { path: "image" } });
  const end = h("input", { type: "file", accept: "image/*,video/*", dataset: { path: "end" } });
  const frames = number("frames", undefined, { placeholder: "the model's" });
  const seed = number("seed", 0, { min: 0 });
  const steps = number("steps", undefined, { min: 1, placeholder: "the model's" });
  return tool("Generate", [
    field("Prompt", prompt),
    h("div", { class: "row" }, field("Model", model), field("Aspect", aspect), field("Frames", frames, "more than one window makes a long video"), field("Seed", seed), field("Steps", steps)),
    h("div", { class: "row" }, field("Start image (optional)", image), field("End image, or a video to extend (optional)", end)),
  ], async () => {
    const body = { prompt: prompt.value, model: model.value, seed: Number(seed.value) };
    const size = sizeOf(model.value, aspect.value);
    if (size) body.size = size;
    if (frames.value) body.frames = Number(frames.value);
    if (steps.value) body.steps = Number(steps.value);
    body.image = await upload(image);
    if (end.files.length) {
      const kind = end.files[0].type.startsWith("video/") ? "video" : "end_image";
      body[kind] = await upload(end);
    }
    return api("/jobs/generate", { method: "POST", json: body });
  });
}

function animateTool() {
  const image = h("input", { type: "file", accept: "image/*", required: true, dataset: { path: "image" } });
  const driving = h("input", { type: "file", accept: "video/*", required: true, dataset: { path: "driving" } });
  const model = modelPicker("animate");
  const seed = number("seed", 0, { min: 0 });
  const steps = number("steps", undefined, { min: 1, placeholder: "the model's" });
  return tool("Animate", [
    h("div", { class: "row" }, field("Portrait (image)", image), field("Driving video", driving)),
    h("div", { class: "row" }, field("Model", model), field("Seed", seed), field("Steps", steps)),
  ], async () => {
    const body = { image: await upload(image), driving: await upload(driving), model: model.value, seed: Number(seed.value) };
    if (steps.value) body.steps = Number(steps.value);
    return api("/jobs/animate", { method: "POST", json: body });
  });
}

function composeTool() {
  const prompt = h("textarea", { rows: 3, required: true, dataset: { path: "prompt" }, placeholder: "The woman waves in the park." });
  const refs = [0, 1, 2].map((i) => ({
    file: h("input", { type: "file", accept: "image/*", required: i === 0, dataset: { path: `references${i}` } }),
    kind: select(["character", "object", "background"], i === 2 ? "background" : "character"),
  }));
  const model = modelPicker("compose");
  const aspect = select(ASPECTS, "", { dataset: { path: "size" } });
  const frames = number("frames", undefined, { placeholder: "the model's" });
  const seed = number("seed", 0, { min: 0 });
  return tool("Compose", [
    field("Prompt", prompt),
    refs.map((r, i) => h("div", { class: "row" }, field(`Reference ${i + 1}${i ? " (optional)" : ""}`, r.file), field("is a", r.kind))),
    h("div", { class: "row" }, field("Model", model), field("Aspect", aspect), field("Frames", frames), field("Seed", seed)),
  ], async () => {
    const references = [];
    for (const r of refs) {
      const id = await upload(r.file);
      if (id) references.push({ upload: id, kind: r.kind.value });
    }
    const body = { prompt: prompt.value, references, model: model.value, seed: Number(seed.value) };
    const size = sizeOf(model.value, aspect.value);
    if (size) body.size = size;
    if (frames.value) body.frames = Number(frames.value);
    return api("/jobs/compose", { method: "POST", json: body });
  });
}

const TOOLS = { generate: generateTool, animate: animateTool, compose: composeTool };

export async function toolsPage(main, which) {
  models ||= (await api("/models")).models;
  const [form, results] = TOOLS[which]();
  main.append(form, results);
  // Earlier jobs of this tool, newest first: come back later and the results are still here.
  const { jobs } = await api("/jobs?limit=20");
  const mine = jobs.filter((j) => j.kind === which);
  if (mine.length) {
    const list = h("ul", { class: "history" });
    for (const j of mine) {
      const show = h("button", { type: "button", class: "quiet" }, "Show");
      show.addEventListener("click", async () => {
        if (j.state === "done") await showResult(j, results);
        else progressRow(j, form.querySelector(".jobs")).then((done) => done.state === "done" && showResult(done, results));
      });
      list.append(h("li", {}, `${new Date(j.created_at * 1000).toLocaleString()} · ${j.state} · ${j.request.prompt || ""} `, show));
    }
    main.append(h("section", { class: "panel" }, h("h2", {}, "Earlier"), list));
  }
}
