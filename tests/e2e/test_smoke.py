"""The served application answers a real browser: sign in, menu of the role, sign out."""

from tests.factories import make_user


def test_purchasing_staff_signs_in_sees_its_menu_and_signs_out(live_server, sign_in):
    with live_server.sessions() as session:
        user, _ = make_user(session, role="purchasing")
        session.commit()
    page = sign_in(user)

    assert page.get_by_role("heading", name="Bienvenue").is_visible()
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Membres"
    ).click()
    assert page.get_by_role("heading", name="Membres").is_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    assert page.get_by_role("heading", name="Connexion").is_visible()
