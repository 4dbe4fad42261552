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


def test_an_empty_or_malformed_sign_in_is_refused_in_french(client, session):
    empty = _login(client, "", "")
    malformed = _login(client, "pas-une-adresse", "x")

    assert empty.status_code == malformed.status_code == 422
    assert empty.text.count("Ce champ est obligatoire.") == 2
    assert "Saisissez une adresse e-mail valide." in malformed.text
    for answer in (empty, malformed):
        assert "This field is required" not in answer.text
        assert "Invalid email address" not in answer.text


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


# --- Throttling --------------------------------------------------------------------------


def _fail(client, email, times, address="192.0.2.10"):
    for _ in range(times):
        page = client.get("/login", environ_base={"REMOTE_ADDR": address})
        answer = client.post(
            "/login",
            data={"email": email, "password": "not the password", "csrf_token": _csrf(page.text)},
            environ_base={"REMOTE_ADDR": address},
        )
        assert answer.status_code == 422, answer.status_code


def _login_from(client, email, password, address):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": _csrf(page.text)},
        environ_base={"REMOTE_ADDR": address},
    )


def test_five_failures_make_the_account_wait_even_with_the_right_password(client, session):
    make_user(session, role="finance", email="compta@example.org")
    _fail(client, "compta@example.org", 5)
    # From another address too: the account is what is being guessed.
    response = _login_from(client, "compta@example.org", PASSWORD, "198.51.100.7")
    assert response.status_code == 429
    assert "Trop de tentatives de connexion infructueuses. Réessayez dans 15 minutes." in (
        response.text
    )
    assert int(response.headers["Retry-After"]) > 14 * 60
    assert client.get("/").status_code == 302


def test_one_address_trying_many_accounts_is_made_to_wait(client, session):
    make_user(session, role="finance", email="compta@example.org")
    for n in range(4):  # under the per-account limit each time
        _fail(client, f"guess{n}@example.org", 5, address="203.0.113.5")
    response = _login_from(client, "compta@example.org", PASSWORD, "203.0.113.5")
    assert response.status_code == 429
    # Another address is not held back by this one's failures.
    assert _login_from(client, "compta@example.org", PASSWORD, "203.0.113.6").status_code == 302


def test_a_successful_sign_in_wipes_the_accounts_failures(app, session):
    make_user(session, role="finance", email="compta@example.org")
    for _attempt in range(2):  # 8 failures in all, never 5 in a row
        browser = app.test_client()
        _fail(browser, "compta@example.org", 4)
        signed_in = _login_from(browser, "compta@example.org", PASSWORD, "192.0.2.10")
        assert signed_in.status_code == 302


def test_the_throttle_is_kept_in_the_database_for_every_process(app, client, session):
    """Failures seen by one application instance hold back sign-ins on another."""
    from purchasing import create_app

    make_user(session, role="finance", email="compta@example.org")
    _fail(client, "compta@example.org", 5)
    other = create_app(dict(app.config))
    other.extensions["centrale.sessionmaker"] = app.extensions["centrale.sessionmaker"]
    response = _login_from(other.test_client(), "compta@example.org", PASSWORD, "192.0.2.99")
    assert response.status_code == 429


# --- Session and CSRF --------------------------------------------------------------------


def test_nothing_planted_in_a_session_before_sign_in_survives_it(app, client, session):
    """Session fixation: what an attacker put in a victim's session before sign-in (the
    signed cookie is the session here) is gone after, and the old cookie signs no one in."""
    make_user(session, role="finance", email="compta@example.org")
    client.get("/login")
    with client.session_transaction() as planted:
        planted["_user_id"] = "attacker-chosen"
        planted["planted"] = "by an attacker"
    before = client.get_cookie("session").value
    assert _login(client, "compta@example.org", PASSWORD).status_code == 302
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after["_user_id"] != "attacker-chosen"
    assert client.get_cookie("session").value != before
    stranger = app.test_client()
    stranger.set_cookie("session", before)
    assert stranger.get("/").status_code == 302


def test_a_form_without_or_with_a_foreign_csrf_token_is_refused(app, client, session):
    make_user(session, role="finance", email="compta@example.org")
    assert _login(client, "compta@example.org", PASSWORD).status_code == 302
    assert client.post("/logout").status_code == 400
    other = app.test_client()
    foreign = _csrf(other.get("/login").text)
    assert client.post("/logout", data={"csrf_token": foreign}).status_code == 400
    assert client.get("/").status_code == 200  # still signed in: nothing was done


def test_session_cookie_is_secure_http_only_and_same_site(session, database_url):
    from purchasing import create_app

    make_user(session, role="finance", email="compta@example.org")
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "cookie-test"})
    assert app.config["SESSION_COOKIE_SECURE"] is True  # the default, production
    client = app.test_client()
    response = client.get("/login", base_url="https://centrale.example")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
