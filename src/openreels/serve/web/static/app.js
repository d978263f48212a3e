// The studio shell: sign-in with a token, and a hash router, so work never reloads the page.
import { ApiError, api, clearErrors, h, leave, setToken, showError, token } from "./lib.js";
import { projectPage } from "./project.js";
import { projectsPage } from "./projects.js";
import { toolsPage } from "./tools.js";

const main = document.getElementById("main");
const signin = document.getElementById("signin");
const who = document.getElementById("who");

const ROUTES = [
  [/^#?\/?$/, projectsPage],
  [/^#\/p\/([0-9a-f]+)\/(script|cast|storyboard|episode)$/, projectPage],
  [/^#\/tools\/(generate|animate|compose)$/, toolsPage],
];

async function signedIn() {
  signin.classList.remove("in");
  who.textContent = "";
  if (!token()) return false;
  try {
    const me = await api("/me");
    who.textContent = `signed in as ${me.name}`;
    signin.classList.add("in");
    return true;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showError(signin.token, err.message);
    return false;
  }
}

function markNav() {
  document.querySelectorAll("header nav a").forEach((a) => {
    const here = location.hash.startsWith(a.getAttribute("href")) && a.getAttribute("href") !== "#/";
    const home = a.getAttribute("href") === "#/" && (!location.hash || location.hash === "#/" || location.hash.startsWith("#/p/"));
    if (here || home) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
}

async function route() {
  leave();
  markNav();
  main.replaceChildren();
  if (!(await signedIn())) {
    main.append(
      h("section", { class: "panel" },
        h("h1", {}, "Sign in"),
        h("p", {}, "Paste an API token in the box above. A server's owner makes one with ",
          h("code", {}, "openreels serve token create NAME"), "."),
      ),
    );
    signin.token.focus();
    return;
  }
  for (const [pattern, page] of ROUTES) {
    const match = pattern.exec(location.hash);
    if (match) {
      await page(main, ...match.slice(1));
      return;
    }
  }
  main.append(h("section", { class: "panel" }, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the projects"))));
}

signin.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearErrors(signin);
  setToken(signin.token.value);
  signin.token.value = "";
  await route();
});

document.getElementById("signout").addEventListener("click", async () => {
  setToken("");
  await route();
});

window.addEventListener("hashchange", async () => {
  await route();
  main.focus({ preventScroll: true });
});
route();
