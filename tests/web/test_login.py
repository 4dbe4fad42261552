import re

from tests.factories import make_user
from tests.factories.auth import PASSWORD


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _login(client, email, password):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": _csrf(page.text)},
    )


def test_login_then_home_then_logout(client, session):
    _user, _token = make_user(session, role="purchasing", email="achats@example.org")
    response = _login(client, "achats@example.org", PASSWORD)
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "achats@example.org" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message_next_to_the_field(client, session):
    make_user(session, role="finance", email="compta@example.org")
    response = _login(client, "compta@example.org", "wrong password!")
    assert response.status_code == 422
    assert "E-mail ou mot de passe incorrect." in response.text
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, session):
    make_user(session, role="finance", email="compta@example.org")
    response = client.post("/login", data={"email": "compta@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_login_never_redirects_off_site(client, session):
    make_user(session, role="auditor", email="audit@example.org")
    page = client.get("/login?next=//evil.example/")
    response = client.post(
        "/login?next=//evil.example/",
        data={"email": "audit@example.org", "password": PASSWORD, "csrf_token": _csrf(page.text)},
    )
    assert response.headers["Location"] == "/"


def test_session_id_changes_at_login(client, session):
    make_user(session, role="auditor", email="audit@example.org")
    client.get("/login")
    before = client.get_cookie("session").value
    _login(client, "audit@example.org", PASSWORD)
    assert client.get_cookie("session").value != before


def test_inactive_user_cannot_log_in(client, session):
    user, _ = make_user(session, role="finance", email="gone@example.org")
    user.active = False
    session.commit()
    assert _login(client, "gone@example.org", PASSWORD).status_code == 422
