from http import HTTPStatus


def test_me(client, user_token, bearer):
    response = client.get("/api/v1/me", **bearer(user_token))
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["role"] == "user"
