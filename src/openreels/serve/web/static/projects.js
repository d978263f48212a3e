// Projects: the list, and a new project from a pasted story or an uploaded Fountain screenplay.
import { ApiError, act, api, field, h, select } from "./lib.js";

const ASPECTS = [["", "the model's own"], ["9:16", "9:16 vertical (phones)"], ["16:9", "16:9 wide"], ["1:1", "1:1 square"]];

function card(p) {
  const s = p.settings;
  const shape = s.aspect || (s.size ? `${s.size[0]}x${s.size[1]}` : "model's own");
  return h("li", { class: "card project" },
    h("h3", {}, h("a", { href: `#/p/${p.id}/script` }, p.title || p.name)),
    h("p", { class: "meta" }, `${p.name} · ${p.planned ? `${p.shots} shots` : "not planned"} · ${s.renderer} · ${shape}`),
    h("p", { class: "links" },
      h("a", { href: `#/p/${p.id}/cast` }, "Cast"),
      h("a", { href: `#/p/${p.id}/storyboard` }, "Storyboard"),
      p.episode ? h("a", { href: `#/p/${p.id}/episode` }, p.episode_current ? "Episode" : "Episode (older than the edits)") : null,
    ),
  );
}

export async function projectsPage(main) {
  const list = h("ul", { class: "cards", "aria-label": "Your projects" });
  const name = h("input", { name: "name", maxlength: 200, placeholder: "e.g. Episode 1" });
  const story = h("textarea", { name: "story", rows: 8, dataset: { path: "story" }, placeholder: "Paste a story: a few sentences about who meets whom, where, and what they say." });
  const file = h("input", { name: "file", type: "file", accept: ".fountain,.spmd,.txt,text/plain" });
  const writer = select([["auto", "automatic (the LLM when the server has one, else built-in)"], ["builtin", "built-in"], ["llm", "OpenAI-compatible endpoint (OPENREELS_LLM_URL on the server)"]], "auto", { name: "writer" });
  const renderer = select([["model", "the video model"], ["stage", "the stage (a fast animatic, seconds)"]], "model", { name: "renderer" });
  const aspect = select(ASPECTS, "", { name: "aspect" });
  const create = h("button", { type: "submit" }, "Create project");
  const form = h("form", { class: "panel new-project", "aria-labelledby": "new-title" },
    h("h2", { id: "new-title" }, "New project"),
    field("Name", name),
    field("Story", story, "A story is written into a screenplay by the writer below."),
    field("…or a Fountain screenplay", file, "A .fountain file (UTF-8) is used as it is."),
    h("div", { class: "row" }, field("Writer", writer), field("Shots from", renderer), field("Aspect", aspect)),
    create,
  );

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(create, async () => {
      const settings = { renderer: renderer.value };
      if (aspect.value) settings.aspect = aspect.value;
      let project;
      if (file.files.length) {
        const body = new FormData();
        body.append("file", file.files[0]);
        body.append("name", name.value);
        body.append("settings", JSON.stringify(settings));
        project = await api("/projects/fountain", { method: "POST", form: body });
      } else if (story.value.trim()) {
        project = await api("/projects", { method: "POST", json: { name: name.value, story: story.value, writer: writer.value, settings } });
      } else {
        throw new ApiError("story: paste a story, or choose a .fountain screenplay", 422);
      }
      // Plan at once (cast sheets, voices, storyboard); the script page shows its progress.
      await api(`/projects/${project.id}/plan`, { method: "POST", json: {} });
      location.hash = `#/p/${project.id}/script`;
    }, form, file.files.length ? file : undefined);
  });

  main.append(
    h("section", { class: "panel" }, h("h1", {}, "Projects"), list),
    form,
  );
  const { projects } = await api("/projects");
  list.replaceChildren(...(projects.length ? projects.map(card) : [h("li", { class: "empty" }, "No projects yet: start one below.")]));
}
