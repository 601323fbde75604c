"""The benchmark's baseline: Flask's minimal application, nothing else.

bench/run.py serves it as `hello:app` (with `--pythonpath bench`) under the service's settings.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "Hello, World!"
