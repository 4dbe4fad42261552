from marshmallow import Schema, fields


class TokenCreateSchema(Schema):
    label = fields.String(load_default="", metadata={"description": "What the token is for"})


class TokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    label = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class IssuedTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "The bearer secret, shown only once"})


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    role = fields.String()
    member_id = fields.Integer(allow_none=True)
