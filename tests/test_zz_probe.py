from tests.conftest import ticket_payload

def test_probe(world):
    c = world.client("operator")
    r = c.post("/api/tickets/", ticket_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    print(r.status_code, r.content[:300])
