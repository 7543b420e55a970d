"""The baseline: a bare Flask app served exactly like Huifang (same gunicorn, same workers)."""
from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.get("/hello")
    def hello():
        return "hello"

    @app.post("/hello")
    def hello_post():
        return "ok"

    return app
