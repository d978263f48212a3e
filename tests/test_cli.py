import subprocess
import sys


def test_version_and_help():
    out = subprocess.run([sys.executable, "-m", "openreels", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("openreels ")
    out = subprocess.run([sys.executable, "-m", "openreels", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Usage" in out.stdout
