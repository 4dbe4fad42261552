from purchasing.audit.models import AuditRecord


def test_me_answers_the_token_owner(api_as):
    api = api_as("finance", email="compta@example.org")
    response = api.get("/auth/me")
    assert response.status_code == 200
    assert response.json["email"] == "compta@example.org"
    assert response.json["role"] == "finance"


def test_anonymous_caller_gets_401(api_as):
    assert api_as(None).get("/auth/me").status_code == 401


def test_unknown_token_gets_401(client):
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer ctl_forged"})
    assert response.status_code == 401


def test_revoked_token_no_longer_works(api_as, session):
    api = api_as("auditor")
    tokens = api.get("/auth/tokens").json
    assert len(tokens) == 1
    assert api.delete(f"/auth/tokens/{tokens[0]['id']}").status_code == 204
    assert api.get("/auth/me").status_code == 401
    actions = [r.action for r in session.query(AuditRecord).all()]
    assert "token.revoked" in actions


def test_new_token_is_shown_once_and_works(api_as, client):
    api = api_as("purchasing")
    created = api.post("/auth/tokens", json={"label": "script"})
    assert created.status_code == 201
    secret = created.json["token"]
    again = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert again.status_code == 200
    listed = api.get("/auth/tokens").json
    assert all("token" not in t for t in listed)


def test_a_user_cannot_revoke_another_users_token(api_as):
    owner = api_as("finance")
    other = api_as("finance")
    token_id = owner.get("/auth/tokens").json[0]["id"]
    assert other.delete(f"/auth/tokens/{token_id}").status_code == 404
    assert owner.get("/auth/me").status_code == 200
