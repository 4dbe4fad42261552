"""The served application answers a real browser: sign in, menu of the role, sign out;
the sign-in and home pages are saved as screenshots."""

from playwright.sync_api import expect

from tests.factories import make_user


def test_purchasing_staff_signs_in_sees_its_menu_and_signs_out(live_server, sign_in, screenshots):
    with live_server.sessions() as session:
        user, _ = make_user(session, role="purchasing")
        session.commit()
    page = sign_in(user)

    expect(page.get_by_role("heading", name="Bienvenue")).to_be_visible()
    page.screenshot(path=screenshots / "home.png", full_page=True)
    page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Membres"
    ).click()
    expect(page.get_by_role("heading", name="Membres")).to_be_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.screenshot(path=screenshots / "login.png", full_page=True)
    # A sign-in with nothing typed is refused next to each box, in French.
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Ce champ est obligatoire.")).to_have_count(2)
    expect(page.get_by_text("This field is required.")).to_have_count(0)
    page.screenshot(path=screenshots / "login-refused.png", full_page=True)
