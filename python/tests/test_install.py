"""`pip install ./python` in a venv works offline: the venv sees Debian's
setuptools (--system-site-packages) and pip builds without an isolated
environment (--no-build-isolation) and without an index (--no-index)."""
import os
import shutil
import subprocess

from conftest import EXAMPLES, SOURCE_DIR


def test_pip_install_in_venv(tmp):
    src = os.path.join(tmp.path, "src")
    shutil.copytree(os.path.join(SOURCE_DIR, "python"), src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = os.path.join(tmp.path, "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                   check=True, timeout=120)
    py = os.path.join(venv, "bin", "python")
    r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                        "--disable-pip-version-check", src], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    r = subprocess.run([py, "-c", "import chainscope, sys; print(chainscope.__file__); "
                        "e = chainscope.Event('demo.x', {'n': 2**70}); "
                        "print(chainscope.to_json(chainscope.decode_event(e.encode()).payload))"],
                       capture_output=True, text=True, env=env, cwd=tmp.path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        os.path.join(venv, "lib", "python3.11", "site-packages", "chainscope", "__init__.py"),
        '{"n":"1180591620717411303424"}']
    r = subprocess.run([py, os.path.join(EXAMPLES, "getaddr.py"), "--help"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and "getaddr" in r.stdout
