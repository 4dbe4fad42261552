from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = EmailField("Adresse e-mail", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired(), Length(max=200)])
