"""The reference for the end-to-end benchmark: a bare Flask endpoint that takes the same JSON
and does nothing with it, served by the same gunicorn settings as Sada's services."""

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/demands")
    def accept():
        body = request.get_json()
        return {"accepted": bool(body)}, 202

    return app
