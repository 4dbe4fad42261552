"""The sign-in form, with its messages in French (WTForms words them in English)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

REQUIRED = "Ce champ est obligatoire."


class LoginForm(FlaskForm):
    email = EmailField(
        "Adresse e-mail",
        validators=[
            DataRequired(message=REQUIRED),
            Email(message="Saisissez une adresse e-mail valide."),
            Length(max=254, message="Au plus 254 caractères."),
        ],
    )
    password = PasswordField(
        "Mot de passe",
        validators=[
            DataRequired(message=REQUIRED),
            Length(max=200, message="Au plus 200 caractères."),
        ],
    )
