from marshmallow import Schema, fields, validates_schema
from marshmallow.exceptions import ValidationError

from purchasing.fields import PaginationQuerySchema, Text


class AuditQuerySchema(PaginationQuerySchema):
    # Text: a NUL byte, which PostgreSQL cannot compare, is refused as a control character.
    entity = Text(metadata={"description": "e.g. member, adhesion, product"})
    entity_id = Text()
    action = Text(metadata={"description": "e.g. adhesion.activated"})
    actor = fields.Email(metadata={"description": "e-mail of the user who acted"})
    since = fields.AwareDateTime(metadata={"description": "from this instant (inclusive)"})
    until = fields.AwareDateTime(metadata={"description": "up to this instant (exclusive)"})

    @validates_schema
    def _ordered(self, data: dict, **_kwargs: object) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("must be after since", field_name="until")


class AuditRecordSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String(attribute="actor_label")
    action = fields.String()
    entity = fields.String()
    entity_id = fields.String()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditRecordSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
