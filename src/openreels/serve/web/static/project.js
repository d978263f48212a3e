// One project: script, cast, storyboard and episode, with the project's jobs followed live on every tab.
import {
  ApiError, FINAL, act, api, field, fmtSeconds, h, progressRow, select, showError, withToken,
} from "./lib.js";

const TABS = [["script", "Script"], ["cast", "Cast"], ["storyboard", "Storyboard"], ["episode", "Episode"]];
let choices = null; // the words a sheet or a shot may use (GET /studio/choices), fetched once

export async function projectPage(main, id, tab) {
  const missing = (err) => {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  };
  const [project, jobList] = await Promise.all([
    api(`/projects/${id}`).catch(missing),
    api(`/projects/${id}/jobs`).catch(missing),
    choices ? null : api("/studio/choices").then((c) => { choices = c; }),
  ]);
  if (!project) {
    main.append(h("section", { class: "panel" }, h("h1", {}, "No such project"), h("p", {}, "It does not exist, or it is not yours. ", h("a", { href: "#/" }, "Your projects"))));
    return;
  }
  const jobs = h("div", { class: "jobs", "aria-label": "Jobs" });
  const body = h("div", { class: "tab-body" });
  const run = { script: scriptTab, cast: castTab, storyboard: storyboardTab, episode: episodeTab }[tab];
  const ctx = { id, project, jobs, body, track: (job) => progressRow(job, jobs) };
  // Draw the tab again from the server's state, without reloading the page (the jobs row stays).
  ctx.reload = async () => {
    ctx.project = await api(`/projects/${id}`);
    body.replaceChildren();
    await run(ctx);
  };
  main.append(
    h("section", { class: "project-head" },
      h("h1", {}, project.title || project.name),
      h("nav", { class: "tabs", "aria-label": "Project" },
        TABS.map(([key, label]) => h("a", { href: `#/p/${id}/${key}`, "aria-current": key === tab ? "page" : null }, label))),
      jobs,
    ),
    body,
  );
  // Jobs of this project still queued or running (perhaps started before a reload) are followed here too.
  ctx.shotJobs = jobList.jobs.filter((j) => j.kind === "shot");
  const active = jobList.jobs.filter((j) => !FINAL.includes(j.state) && j.kind !== "shot");
  ctx.pending = active.map(ctx.track);
  await run(ctx);
}

const plan = async (ctx) => ctx.track(await api(`/projects/${ctx.id}/plan`, { method: "POST", json: {} }));

// --- script ------------------------------------------------------------------------------------------------
// Lines and action are edited in place; saving rewrites those lines of the Fountain source and re-plans.
function applyEdits(fountain, edits) {
  const lines = fountain.split("\n");
  for (const { line, text } of [...edits].sort((a, b) => b.line - a.line)) {
    let end = line - 1; // a Fountain element runs to the next blank line
    while (end + 1 < lines.length && lines[end + 1].trim() !== "") end += 1;
    lines.splice(line - 1, end - line + 2, text);
  }
  return lines.join("\n");
}

async function scriptTab(ctx) {
  const [{ fountain }, outline] = await Promise.all([api(`/projects/${ctx.id}/script`), api(`/projects/${ctx.id}/script/outline`)]);
  const inputs = [];
  const scenes = outline.scenes.map((scene, i) =>
    h("section", { class: "scene" },
      h("h2", {}, `${i + 1}. ${scene.heading}`, scene.transition_in ? h("small", {}, ` (${scene.transition_in})`) : null),
      scene.beats.map((beat) => {
        const input = h(beat.type === "line" ? "input" : "textarea", { class: beat.type, dataset: { line: beat.line_number, path: `line${beat.line_number}` } });
        if (beat.type === "line") input.value = beat.text;
        else {
          input.rows = 2;
          input.value = beat.text;
        }
        input.dataset.original = beat.text;
        inputs.push(input);
        const label = beat.type === "line" ? `${beat.character}${beat.parenthetical ? ` (${beat.parenthetical})` : ""}` : "Action";
        return field(label, input);
      }),
    ),
  );
  const save = h("button", { type: "button" }, "Save lines and re-plan");
  save.addEventListener("click", () => act(save, async () => {
    const edits = inputs.filter((i) => i.value.trim() !== i.dataset.original).map((i) => ({ line: Number(i.dataset.line), text: i.value.trim(), input: i }));
    const empty = edits.find((e) => !e.text);
    if (empty) throw new ApiError(`line${empty.line}: a line cannot be empty; delete it in the Fountain source below`, 422);
    if (!edits.length) throw new ApiError("nothing changed: edit a line first", 400);
    await api(`/projects/${ctx.id}/script`, { method: "PUT", json: { fountain: applyEdits(fountain, edits) } });
    await ctx.reload(); // line numbers move when a line changes length; take them from the server again
    await plan(ctx);
  }, ctx.body));

  const source = h("textarea", { rows: 18, class: "source", spellcheck: "false", dataset: { path: "fountain" } });
  source.value = fountain;
  const saveSource = h("button", { type: "button" }, "Save source and re-plan");
  saveSource.addEventListener("click", () => act(saveSource, async () => {
    await api(`/projects/${ctx.id}/script`, { method: "PUT", json: { fountain: source.value } });
    await plan(ctx);
    await ctx.reload(); // the outline above now comes from the new source
  }, saveSource.parentElement, source));

  ctx.body.append(
    h("section", { class: "panel script" },
      h("p", { class: "meta" }, `${outline.scenes.length} scenes · cast: ${outline.characters.join(", ")}`),
      scenes,
      h("div", { class: "actions" }, save),
    ),
    h("details", { class: "panel" },
      h("summary", {}, "Fountain source (add or remove scenes, lines and characters)"),
      field("Screenplay", source), saveSource),
  );
}

// --- cast --------------------------------------------------------------------------------------------------
async function castTab(ctx) {
  let cast = await api(`/projects/${ctx.id}/cast`);
  const grid = h("div", { class: "cards cast" });
  let version = Date.now();
  const sheet = (c, index) => {
    const img = h("img", { alt: `${c.name}'s reference sheet`, src: withToken(c.reference_url, version), width: 160 });
    const pick = (key, list) => {
      const s = select(list, c[key], { dataset: { path: key } });
      s.addEventListener("change", () => { c[key] = s.value; });
      return field(key.replace("_", " "), s);
    };
    const description = h("textarea", { rows: 2, dataset: { path: "description" }, placeholder: "free text for real models (empty: the words above)" });
    description.value = c.description;
    description.addEventListener("input", () => { c.description = description.value; });
    const num = (key) => {
      const input = h("input", { type: "number", min: 0.5, max: 2, step: 0.05, value: String(c.voice[key]), dataset: { path: `voice.${key}` } });
      input.addEventListener("input", () => { c.voice[key] = Number(input.value); });
      return field(`voice ${key}`, input);
    };
    const audio = h("audio", { controls: true, preload: "none" });
    const play = h("button", { type: "button" }, `Play ${c.name}'s voice`);
    play.addEventListener("click", () => act(play, async () => {
      audio.src = withToken(`/api/v1/projects/${ctx.id}/cast/${encodeURIComponent(c.name)}/voice.wav`, Date.now());
      await audio.play().catch(() => {});
    }));
    const save = h("button", { type: "button" }, "Save and redraw");
    const box = h("article", { class: "card sheet", dataset: { name: c.name } },
      h("h2", {}, c.name), img,
      h("div", { class: "row" },
        pick("kind", choices.kind), pick("skin", choices.skin), pick("hair_style", choices.hair_style),
        pick("hair_color", choices.hair_color), pick("shirt_color", choices.colour)),
      field("description", description),
      h("div", { class: "row" }, num("pitch"), num("rate")),
      h("div", { class: "actions" }, play, audio),
      h("div", { class: "actions" }, save),
    );
    save.addEventListener("click", () => act(save, async () => {
      cast = await api(`/projects/${ctx.id}/cast`, { method: "PUT", json: cast });
      version = Date.now();
      img.src = withToken(cast.characters[index].reference_url, version);
      await plan(ctx);
    }, box));
    return box;
  };
  grid.append(...cast.characters.map(sheet));
  ctx.body.append(h("section", { class: "panel" }, h("p", { class: "meta" }, "Edit a sheet, then save: the picture is drawn again and the storyboard re-planned."), grid));
}

// --- storyboard --------------------------------------------------------------------------------------------
function shotVideo(job) {
  const file = (job.result?.files || []).find((f) => f.name.endsWith(".mp4"));
  return file ? h("video", { src: withToken(file.url), controls: true, muted: true, autoplay: true, loop: true, playsinline: true, class: "shot-video" }) : null;
}

async function storyboardTab(ctx) {
  const board = await api(`/projects/${ctx.id}/storyboard`).catch((err) => {
    if (err instanceof ApiError && err.status === 409) return null;
    throw err;
  });
  const oneClick = h("button", { type: "button", class: "primary" }, "One-Click Video");
  const replan = h("button", { type: "button" }, board ? "Re-plan" : "Plan the storyboard");
  const watchLink = h("a", { href: `#/p/${ctx.id}/episode`, class: "button", hidden: !ctx.project.episode }, "Watch the episode");
  oneClick.addEventListener("click", () => act(oneClick, async () => {
    const job = await ctx.track(await api(`/projects/${ctx.id}/render`, { method: "POST" }));
    if (job.state === "done") {
      watchLink.hidden = false;
      watchLink.focus();
    } else if (job.state === "failed") showError(oneClick, job.error);
  }));
  replan.addEventListener("click", () => act(replan, async () => {
    const job = await plan(ctx);
    if (job.state === "done") await ctx.reload();
    else if (job.state === "failed") showError(replan, job.error);
  }));
  const toolbar = h("div", { class: "actions toolbar" }, oneClick, replan, watchLink);
  if (!board) {
    ctx.body.append(h("section", { class: "panel" }, h("p", {}, "Not planned yet: planning writes the cast and the shots (it runs by itself after a project is made)."), toolbar));
    return;
  }
  const cast = await api(`/projects/${ctx.id}/cast`);
  const speakers = ["", ...cast.characters.map((c) => c.name)];
  const cards = board.shots.map((shot) => shotCard(ctx, shot, speakers));
  const seconds = board.shots.reduce((t, s) => t + s.duration, 0);
  ctx.body.append(
    h("section", { class: "panel" }, h("p", { class: "meta" }, `${board.shots.length} shots · ${fmtSeconds(seconds)}`), toolbar),
    h("ol", { class: "cards storyboard", "aria-label": "Shots" }, cards),
  );
}

function shotCard(ctx, shot, speakers) {
  const c = shot.caption;
  const sub = (key, list, value) => select(list, value, { dataset: { path: key } });
  const type = sub("shot_type", choices.shot_type, c.shot_type);
  const angle = sub("shot_angle", choices.shot_angle, c.shot_angle);
  const camera = sub("camera_motion", choices.camera_motion, c.camera_motion);
  const transition = sub("transition", choices.transition, shot.transition);
  const speaker = sub("character", speakers.map((s) => [s, s || "nobody"]), shot.dialogue?.character || "");
  const line = h("input", { dataset: { path: "text" }, placeholder: "what they say" });
  line.value = shot.dialogue?.text || "";
  const duration = h("input", { type: "number", min: 0.1, max: 60, step: 0.1, value: String(shot.duration), dataset: { path: "duration" } });
  const save = h("button", { type: "button" }, "Save shot");
  const toVideo = h("button", { type: "button", class: "primary" }, "To Video");
  const media = h("div", { class: "media" },
    h("img", { src: withToken(`/api/v1/projects/${ctx.id}/storyboard/shots/${shot.id}/thumb.png`), alt: `shot ${shot.id}: ${c.shot_type}` }));
  const progress = h("div", { class: "jobs" });
  const card = h("li", { class: "card shot", dataset: { shot: shot.id } },
    media,
    h("h3", {}, `${shot.id} · ${shot.purpose}`),
    h("div", { class: "row" }, field("shot type", type), field("angle", angle), field("camera", camera)),
    h("div", { class: "row" }, field("who speaks", speaker), field("seconds", duration), field("transition", transition)),
    field("line", line),
    h("div", { class: "actions" }, save, toVideo),
    progress,
  );
  const edited = () => {
    const next = structuredClone(shot);
    Object.assign(next.caption, { shot_type: type.value, shot_angle: angle.value, camera_motion: camera.value });
    next.transition = transition.value;
    next.duration = Number(duration.value);
    next.dialogue = speaker.value ? { ...(shot.dialogue || {}), character: speaker.value, text: line.value.trim() } : null;
    return next;
  };
  const store = async () => {
    shot = await api(`/projects/${ctx.id}/storyboard/shots/${shot.id}`, { method: "PUT", json: edited() });
    media.querySelector("img").src = withToken(`/api/v1/projects/${ctx.id}/storyboard/shots/${shot.id}/thumb.png`, Date.now());
  };
  save.addEventListener("click", () => act(save, store, card));
  toVideo.addEventListener("click", () => act(toVideo, async () => {
    if (JSON.stringify(edited()) !== JSON.stringify(shot)) await store(); // render what the card shows
    const job = await progressRow(await api(`/projects/${ctx.id}/shots/${shot.id}/render`, { method: "POST" }), progress);
    if (job.state === "done") media.replaceChildren(shotVideo(job));
    else if (job.state === "failed") showError(toVideo, job.error);
  }, card));
  const last = ctx.shotJobs.find((j) => j.request.shot === shot.id);
  if (last && last.state === "done") media.replaceChildren(shotVideo(last));
  else if (last && !FINAL.includes(last.state)) {
    progressRow(last, progress).then((job) => job.state === "done" && media.replaceChildren(shotVideo(job)));
  }
  return card;
}

// --- episode -----------------------------------------------------------------------------------------------
// <track> takes WebVTT; the episode's subtitles are SRT: the same cues with a header and '.' before the ms.
const srtToVtt = (srt) => `WEBVTT\n\n${srt.replace(/\r/g, "").replace(/(\d\d:\d\d:\d\d),(\d\d\d)/g, "$1.$2")}`;

async function episodeTab(ctx) {
  const files = `/api/v1/projects/${ctx.id}/files`;
  if (!ctx.project.episode) {
    ctx.body.append(h("section", { class: "panel" }, h("p", {}, "No episode yet. "), h("a", { href: `#/p/${ctx.id}/storyboard` }, "Make it from the storyboard (One-Click Video).")));
    return;
  }
  const bust = ctx.project.last_render ? String(ctx.project.last_render.seconds) : "";
  const [srt, report] = await Promise.all([
    fetch(withToken(`${files}/episode.srt`, bust)).then((r) => r.text()),
    fetch(withToken(`${files}/render.json`, bust)).then((r) => r.json()),
  ]);
  const video = h("video", { id: "episode", controls: true, playsinline: true, preload: "metadata", src: withToken(`${files}/episode.mp4`, bust) });
  video.append(h("track", { kind: "subtitles", srclang: "en", label: "Subtitles", default: true, src: URL.createObjectURL(new Blob([srtToVtt(srt)], { type: "text/vtt" })) }));
  const rows = (pairs) => h("table", {}, h("tbody", {}, pairs.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)))));
  const looks = report.cast_consistency || {};
  const pct = (x) => (x === undefined || x === null ? "n/a" : `${Math.round(100 * x)}%`);
  ctx.body.append(
    h("section", { class: "panel episode" },
      h("div", { class: "player" }, video),
      h("div", { class: "actions downloads" },
        h("a", { class: "button", href: withToken(`${files}/episode.mp4`, bust), download: "episode.mp4" }, "Download MP4"),
        h("a", { class: "button", href: withToken(`${files}/episode.srt`, bust), download: "episode.srt" }, "Download SRT"),
        ctx.project.episode_current === false ? h("span", { class: "meta" }, "Edited since this render: One-Click Video again to bring it up to date.") : null,
      ),
    ),
    h("section", { class: "panel report" },
      h("h2", {}, "Render report"),
      h("div", { class: "row" },
        rows([
          ["shots", `${report.shots} (${report.rendered} rendered, ${report.cached} from the cache)`],
          ["length", fmtSeconds(report.video_seconds)],
          ["render time", fmtSeconds(report.seconds)],
          ["size", `${(report.bytes / 1e6).toFixed(2)} MB`],
          ["writer · voices", `${report.writer} · ${report.tts}`],
        ]),
        h("div", {}, h("h3", {}, "Timings"), rows(Object.entries(report.timings || {}).map(([k, v]) => [k, fmtSeconds(v)]))),
        h("div", {}, h("h3", {}, "Cast consistency"), rows([
          ["sheet colours", pct(looks.colours)], ["hair", pct(looks.hair_color)], ["shirt", pct(looks.shirt_color)], ["shots measured", looks.shots ?? "n/a"],
        ])),
      ),
      h("h3", {}, "Storyboard"),
      h("img", { class: "sheet", src: withToken(`${files}/storyboard.png`, bust), alt: "contact sheet of every shot" }),
    ),
  );
}
