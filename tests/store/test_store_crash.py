"""Kill a writing process at random moments; every write it acknowledged must survive.

The child makes changes in a loop and prints their keys only once `sync()` has returned (the
store writes off the caller's thread; what the bot acknowledges, it acknowledges after
`durable()`, the same wait). The parent SIGKILLs it at a random moment (often in the middle of a write: the
writes are most of what it does), reopens the store, and checks that the file loads and holds
every acknowledged key, across many rounds on the same file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.store import Store

REPO_ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 30

CHILD = r"""
import sys
from bot.store import Store, User

store = Store(sys.argv[1])
round_no = int(sys.argv[2])
print("ready", flush=True)
i = 0
while True:
    batch = []
    for _ in range(1 + i % 3):  # several changes, then one wait for them all
        key = f"{round_no}-{i}"
        if i % 2:
            store.audit.record(actor_id=round_no, action="crash-test", target=key, outcome="ok")
        else:
            store.users.put(User(id=round_no * 1_000_000 + i, role="user", name=key))
        batch.append(key)
        i += 1
    store.sync()
    print("\n".join(batch), flush=True)
"""


def _run_and_kill(path: Path, round_no: int, rng: random.Random) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(round_no)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.08))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    # Only whole lines are acknowledgements; a line cut by the kill was never acknowledged.
    return [line for line in out.split("\n")[:-1] if line]


def test_every_acknowledged_write_survives_sigkill(tmp_path):
    path = tmp_path / "state" / "store.json"
    rng = random.Random(1234)
    acknowledged: set[str] = set()
    for round_no in range(ROUNDS):
        acknowledged.update(_run_and_kill(path, round_no, rng))

        with Store(path) as store:  # must load: a torn file would raise here
            present = {u.name for u in store.users.all()}
            present |= {e.target for e in store.audit.recent(n=10**9)}
        missing = acknowledged - present
        assert not missing, f"round {round_no}: lost acknowledged writes {sorted(missing)[:5]}"

    assert len(acknowledged) > ROUNDS  # the children really wrote something
    # Reopening cleaned up temp files of writes that were cut short.
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["store-audit.jsonl", "store.json", "store.json.last-good",
                     "store.lock"]  # no temp file left
