async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200


async def test_world_vacancies(client, world):
    response = await client.get(
        "/api/vacancies", headers=world.auth("officer"), params={"age": 15, "gender": "girl"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_free_now"] == 5
