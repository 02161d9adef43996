"""The one parser every blueprint reads arguments with: a schema class is made once."""

from __future__ import annotations

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields

from services.parsing import Blueprint


class Made(Schema):
    made = 0
    name = fields.String(required=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        type(self).made += 1


def test_a_schema_class_is_made_once_however_many_requests_read_it() -> None:
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    blp = Blueprint("things", __name__)

    @blp.route("/things")
    class Things(MethodView):
        @blp.arguments(Made)
        def post(self, body):
            return {"got": body["name"]}

    Api(app).register_blueprint(blp)
    client = app.test_client()
    before = Made.made
    answers = [client.post("/things", json={"name": f"n{i}"}) for i in range(5)]
    assert [a.get_json() for a in answers] == [{"got": f"n{i}"} for i in range(5)]
    refused = client.post("/things", json={})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["json"]["name"]
    assert Made.made - before <= 1
