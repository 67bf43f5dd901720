"""Pool leases of an address a person names (`claim`), what is held, and giving a request's
leases back (`release_holder`)."""

from bot.store import Store


def test_claim_held_and_release_holder(tmp_path):
    pools = Store(tmp_path / "s.json").pools
    pool = pools.put("vmbr1", "10.10.20.10", "10.10.20.12")
    assert pools.claim(pool, "10.10.20.11", "create:a", hold_s=100, now=1000) is None
    assert pools.claim(pool, "10.10.20.11", "create:a", hold_s=100, now=1010) is None  # again
    assert pools.claim(pool, "10.10.20.11", "create:b", hold_s=100, now=1020) == "create:a"
    # the next free address skips the claimed one
    assert pools.lease(pool, set(), "create:b", hold_s=100, now=1030) == "10.10.20.10"
    assert pools.held("vmbr1", hold_s=100, now=1040) == {"10.10.20.10": "create:b",
                                                         "10.10.20.11": "create:a"}
    assert pools.release_holder("create:b") == [("vmbr1", "10.10.20.10")]
    assert pools.held("vmbr1", hold_s=100, now=1040) == {"10.10.20.11": "create:a"}
    # an expired lease holds nothing
    assert pools.held("vmbr1", hold_s=100, now=1200) == {}
    assert pools.claim(pool, "10.10.20.11", "create:c", hold_s=100, now=1200) is None
