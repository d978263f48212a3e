import subprocess
import sys


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "openreels", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("openreels ")
    out = subprocess.run([sys.executable, "-m", "openreels", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage" in out.stdout


def _modules_after(code: str) -> set[str]:
    """Module names a fresh interpreter holds after running `code` (on stderr: help goes to stdout)."""
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules), file=sys.stderr)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stderr.split())


# Libraries only some commands need; seconds of start-up each on the 2-core CPU.
HEAVY = ("torch", "diffusers", "transformers", "scipy", "mediapipe", "cv2", "fastapi", "ray", "av")


def test_every_help_imports_no_model_library():
    code = (
        "from openreels.cli import COMMAND_MODULES, main\n"
        "codes = [main([*name, '--help']) for name in [[]] + [[c] for c in COMMAND_MODULES]]\n"
        "assert codes == [0] * len(codes), codes"
    )
    loaded = _modules_after(code)
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_animate_and_compose_skip_the_text_to_video_pipelines():
    loaded = _modules_after("import openreels.pipelines.animate, openreels.pipelines.compose")
    assert "openreels.pipelines.df" not in loaded and "openreels.pipelines.tasks" not in loaded
    assert not any(m.startswith("diffusers.pipelines.skyreels_v2") for m in loaded)


def test_pipelines_names_load_on_use():
    import openreels.pipelines as pipelines
    from openreels.pipelines import GenerateRequest, generate
    from openreels.pipelines.request import GenerateRequest as direct
    from openreels.pipelines.tasks import generate as direct_generate

    assert GenerateRequest is direct and generate is direct_generate
    assert set(pipelines.__all__) <= set(dir(pipelines)) | set(pipelines._NAMES)
    try:
        pipelines.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_lasting_imports_freeze_what_they_import_and_restore_the_collector():
    import gc

    from openreels.cli.common import lasting_imports

    before = gc.get_freeze_count()
    try:
        with lasting_imports():
            assert not gc.isenabled()
            import email.mime.multipart  # noqa: F401 (a stdlib package the tests do not load otherwise)
        assert gc.isenabled() and gc.get_freeze_count() > before
        gc.disable()
        with lasting_imports():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
        gc.unfreeze()
