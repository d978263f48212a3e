"""The web studio in a real browser (Debian's chromium driven by Playwright) against a real `openreels serve`
process: a project from the sample screenplay, one line edited, a stage render followed to 100%, the
episode played and its SRT downloaded; another token sees nothing. Screenshots of every page at desktop and
phone widths go to out/web-screenshots/ (or $OPENREELS_WEB_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "the_red_umbrella.fountain"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
EDITED = "You found it! My grandmother's red umbrella."

if not Path(CHROMIUM).is_file():
    if os.environ.get("CI"):
        raise RuntimeError(
            "the browser tests need Debian's chromium: apt-get install chromium (.ci/run does)"
        )
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright", reason="pip install -e '.[dev]' installs playwright")


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_process):
    """`openreels serve` in its own process on loopback, with two tokens: alice and bob."""

    from openreels.serve.store import Store

    data = tmp_path_factory.mktemp("serve")
    store = Store(data)
    tokens = {name: store.create_token(name) for name in ("alice", "bob")}
    port = serve_process.free_port()
    proc = serve_process.start(data, port, data / "server.log")
    base = f"http://127.0.0.1:{port}"
    yield {"base": base, "data": data, "tokens": tokens}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots_dir() -> Path:
    folder = Path(os.environ.get("OPENREELS_WEB_SCREENSHOTS", ROOT / "out" / "web-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page, folder: Path, name: str) -> None:
    """The page at desktop and at phone width."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        # Every picture loaded, then two frames drawn at the new width: the shot shows the page as laid out.
        page.wait_for_function("() => [...document.images].every((i) => i.complete)")
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=label == "desktop")
        # Readable at this width: nothing makes the page scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (name, label)
    page.set_viewport_size(DESKTOP)


def press(locator, key: str = "Enter") -> None:
    """Work a control from the keyboard: focus it, then press the key."""
    locator.focus()
    locator.press(key)


def tab_to(page, locator, key: str = "Tab", limit: int = 40) -> None:
    """Move the focus with the keyboard alone until it is on `locator`'s element."""
    target = locator.element_handle()
    for _ in range(limit):
        if page.evaluate("el => document.activeElement === el", target):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {locator}")


def sign_in(page, base: str, token: str) -> None:
    page.goto(base + "/")
    page.fill("#token", token)
    page.press("#token", "Enter")


def wait_job(page, scope: str, kind: str, timeout_s: float = 150) -> str:
    """Wait until the newest progress row of `kind` under `scope` is final; returns its state."""
    row = page.locator(f"{scope} .job[data-kind={kind}]").first
    row.wait_for()
    page.wait_for_function(
        "row => ['done', 'failed', 'cancelled'].includes(row.dataset.state)",
        arg=row.element_handle(),
        timeout=timeout_s * 1000,
    )
    return row.get_attribute("data-state")


def test_story_to_episode_in_the_browser(server, browser, shots_dir) -> None:
    import av
    import yaml
    from playwright.sync_api import expect

    base, alice = server["base"], server["tokens"]["alice"]
    # Generous: a busy 2-core machine answers slowly, and a wait ends as soon as its state is reached.
    expect.set_options(timeout=60_000)
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_in(page, base, alice)
    expect(page.locator("#who")).to_have_text("signed in as alice")
    expect(page.locator(".cards .empty")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if anything below reloads the page

    # Single-shot generate, in a second tab so that it runs beside the project (the server has two workers):
    # an invalid field gets its error next to it, then a short 9:16 clip from the tiny model.
    second = context.new_page()
    second.on("pageerror", lambda exc: errors.append(str(exc)))
    second.goto(base + "/#/tools/generate")  # the token is remembered: signed in already
    second.fill("textarea[data-path=prompt]", "A woman waves.")
    second.fill("input[data-path=frames]", "5000")  # over the API's bound: a 422 naming the field
    press(second.locator("form.tool button[type=submit]"))
    expect(second.locator(".field:has(input[data-path=frames]) .error")).to_contain_text("frames")
    second.fill("input[data-path=frames]", "5")
    second.fill("input[data-path=steps]", "1")
    second.select_option("select[data-path=size]", "9:16")
    press(second.locator("form.tool button[type=submit]"))
    second.locator("form.tool .job[data-kind=generate]").wait_for()
    expect(second.locator(".field .error")).to_have_count(0)
    page.bring_to_front()

    # Projects: make a vertical project from the sample screenplay, shots from the stage.
    press(page.get_by_role("button", name="Create project"))  # neither a story nor a file: said by the story
    expect(page.locator(".field:has(textarea[name=story]) .error")).to_contain_text("paste a story")
    page.fill("input[name=name]", "Red umbrella")
    page.set_input_files("input[name=file]", str(EXAMPLE))
    page.select_option("select[name=renderer]", "stage")
    page.select_option("select[name=aspect]", "9:16")
    snap(page, shots_dir, "1-projects")
    press(page.get_by_role("button", name="Create project"))

    # Script: the plan runs by itself; edit one line, save, and the project is planned again.
    page.wait_for_url(re.compile(r"#/p/[0-9a-f]+/script$"))
    project_id = page.url.split("/p/")[1].split("/")[0]
    assert wait_job(page, ".project-head", "plan") == "done"
    line = page.locator("input.line").first
    expect(line).to_have_value("You found it! The red umbrella.")
    line.fill(EDITED)
    snap(page, shots_dir, "2-script")
    press(page.get_by_role("button", name="Save lines and re-plan"))
    page.wait_for_function(
        "() => document.querySelectorAll('.project-head .job[data-kind=plan]').length === 2"
    )
    assert wait_job(page, ".project-head", "plan") == "done"
    fountain = (server["data"] / "projects" / project_id / "screenplay.fountain").read_text()
    assert EDITED in fountain and "You found it! The red umbrella." not in fountain

    # Cast: a sheet per speaker, and a voice sample that plays.
    press(page.get_by_role("link", name="Cast", exact=True))
    expect(page.locator("article.sheet")).to_have_count(2)
    press(page.get_by_role("button", name="Play MAYA's voice"))
    page.wait_for_function("() => document.querySelector('article.sheet audio').duration > 0.5")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.sheet img')].every(i => i.naturalWidth > 0)"
    )

    # Edit a character: a yellow shirt for MAYA; the sheet is drawn again with it, and the project re-planned.
    maya = page.locator("article.sheet[data-name=MAYA]")
    yellow = """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 180 && d[i + 2] < 90) n++; return n / (d.length / 4); }"""
    before_src = maya.locator("img").get_attribute("src")
    assert maya.locator("img").evaluate(yellow) < 0.01
    maya.locator("select[data-path=shirt_color]").select_option("yellow")
    press(maya.get_by_role("button", name="Save and redraw"))
    page.wait_for_function(
        "() => document.querySelectorAll('.project-head .job[data-kind=plan]').length === 1"
    )
    assert wait_job(page, ".project-head", "plan") == "done"
    page.wait_for_function(
        "src => { const i = document.querySelector('article.sheet[data-name=MAYA] img'); return i.src !== src && i.complete && i.naturalWidth > 0; }",
        arg=before_src,
    )
    assert maya.locator("img").evaluate(yellow) > 0.05
    cast_yaml = (server["data"] / "projects" / project_id / "cast.yaml").read_text()
    assert "shirt_color: yellow" in cast_yaml
    snap(page, shots_dir, "3-cast")

    # Storyboard: a card per shot with its thumbnail; One-Click Video followed live to 100%.
    press(page.get_by_role("link", name="Storyboard"))
    cards = page.locator("li.shot")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 10
    page.wait_for_function("() => document.querySelector('li.shot img').naturalHeight > 0")
    height, width = page.evaluate(
        "() => [document.querySelector('li.shot img').naturalHeight, document.querySelector('li.shot img').naturalWidth]"
    )
    assert height > width  # 9:16 reaches the shots
    snap(page, shots_dir, "4-storyboard")

    # To Video for one shot: its own progress in its card, then its video plays there.
    first = cards.first
    first.locator("select[data-path=camera_motion]").select_option("static")
    first.locator("input[data-path=duration]").fill("1.5")
    press(first.get_by_role("button", name="To Video"))
    assert wait_job(page, "li.shot[data-shot=s01-01]", "shot") == "done"
    first.locator("video.shot-video").wait_for()
    page.wait_for_function(
        "() => { const v = document.querySelector('li.shot[data-shot=s01-01] video'); return !v.paused && v.currentTime > 0; }"
    )
    expect(first.locator(".job .pct")).to_have_text("100%")
    board = yaml.safe_load((server["data"] / "projects" / project_id / "storyboard.yaml").read_text())
    shot = next(s for s in board["shots"] if s["id"] == "s01-01")
    assert shot["duration"] == 1.5 and shot["caption"]["camera_motion"] == "static"
    # Record every percentage the bar shows, as the server-sent events arrive.
    page.evaluate(
        """() => { window.seen = []; new MutationObserver(() => {
             const pct = document.querySelector('.project-head .job[data-kind=render] .pct');
             if (pct && window.seen.at(-1) !== pct.textContent) window.seen.push(pct.textContent);
           }).observe(document.querySelector('.project-head .jobs'), {subtree: true, childList: true, characterData: true}); }"""
    )
    # From the shot's card back to the toolbar with Shift+Tab, then Enter.
    tab_to(page, page.get_by_role("button", name="One-Click Video"), "Shift+Tab")
    page.keyboard.press("Enter")
    assert wait_job(page, ".project-head", "render", timeout_s=180) == "done"
    seen = [int(p.rstrip("%")) for p in page.evaluate("window.seen")]
    assert seen[-1] == 100 and len(seen) >= 3 and seen == sorted(seen), seen
    expect(page.locator(".project-head .job[data-kind=render] .pct")).to_have_text("100%")

    # Episode: it plays, its length is the file's, the subtitles carry the edited line; the SRT downloads.
    # When the episode is made, the focus is on the link to it: Enter opens it.
    page.wait_for_function("() => document.activeElement.textContent === 'Watch the episode'")
    page.keyboard.press("Enter")
    video = page.locator("video#episode")
    video.wait_for()
    page.wait_for_function("() => document.querySelector('video#episode').readyState >= 1")
    snap(page, shots_dir, "5-episode")
    press(video, "Space")  # the native player's own key
    page.wait_for_function(
        "() => { const v = document.querySelector('video#episode'); return !v.paused && v.currentTime > 0.3; }"
    )
    episode = server["data"] / "projects" / project_id / "episode.mp4"
    with av.open(str(episode)) as container:
        file_seconds = container.duration / 1_000_000
        stream = container.streams.video[0]
        assert stream.height > stream.width  # still vertical after the cut
    assert abs(page.evaluate("document.querySelector('video#episode').duration") - file_seconds) < 0.1
    cues = page.evaluate("[...document.querySelector('video#episode').textTracks[0].cues].map(c => c.text)")
    srt_file = (server["data"] / "projects" / project_id / "episode.srt").read_text()
    assert len(cues) == srt_file.count(" --> ") and f"MAYA: {EDITED}" in cues
    with page.expect_download() as download:
        press(page.get_by_role("link", name="Download SRT"))
    assert download.value.suggested_filename == "episode.srt"
    assert Path(download.value.path()).read_text() == srt_file
    expect(page.locator(".report")).to_contain_text("Cast consistency")
    assert page.evaluate("window.sameDocument === true")  # the whole flow without one page reload

    # The single-shot tools' pages (Generate lists the job started at the beginning).
    for name in ("generate", "animate", "compose"):
        press(page.get_by_role("link", name=name.title(), exact=True))
        expect(page.get_by_role("heading", name=name.title())).to_be_visible()
        snap(page, shots_dir, f"6-{name}")
    # The generate job started at the beginning: its video plays, and its sidecar shows the request.
    second.bring_to_front()
    assert wait_job(second, "form.tool", "generate") == "done"
    second.wait_for_function("() => document.querySelector('figure.result video').readyState >= 2")
    assert (
        second.evaluate("document.querySelector('figure.result video').videoHeight") == 160
    )  # 9:16 in the tiny model's multiples of 32
    expect(second.locator("pre.sidecar")).to_contain_text("A woman waves.")
    assert not errors, errors
    context.close()

    # Another token: no projects listed, the project's page and files are not there for them.
    other = browser.new_context(viewport=DESKTOP)
    other.set_default_timeout(60_000)
    page = other.new_page()
    sign_in(page, base, server["tokens"]["bob"])
    expect(page.locator("#who")).to_have_text("signed in as bob")
    expect(page.locator(".cards .empty")).to_be_visible()
    page.goto(f"{base}/#/p/{project_id}/episode")
    expect(page.get_by_role("heading", name="No such project")).to_be_visible()
    assert page.locator("video").count() == 0
    answer = page.request.get(
        f"{base}/api/v1/projects/{project_id}/files/episode.mp4?access_token={server['tokens']['bob']}"
    )
    assert answer.status == 404
    # Bob's own project, from a pasted story (the built-in writer): his list holds it, and only it.
    page.goto(f"{base}/#/")
    page.fill("textarea[name=story]", "Noor waits in the park. Sam runs to her. Sam says hello. Noor laughs.")
    page.select_option("select[name=writer]", "builtin")
    page.select_option("select[name=renderer]", "stage")
    press(page.get_by_role("button", name="Create project"))
    page.wait_for_url(re.compile(r"#/p/[0-9a-f]+/script$"))
    assert wait_job(page, ".project-head", "plan") == "done"
    expect(page.locator("section.scene").first).to_be_visible()
    press(page.get_by_role("link", name="Projects"))
    expect(page.locator("li.project")).to_have_count(1)
    assert project_id not in page.locator("li.project a").first.get_attribute("href")
    other.close()
