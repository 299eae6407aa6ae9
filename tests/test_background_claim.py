"""Background tasks run in exactly one process per store: the others wait, and one takes
over when the holder stops (SQLite: a file lock; PostgreSQL: an advisory lock)."""
from __future__ import annotations

import asyncio
import threading


def test_one_runner_per_store_and_a_waiting_one_takes_over(any_store, monkeypatch, tmp_path):
    from studio.service import background
    from studio.settings import Settings

    ran: list[int] = []

    def task(ctx) -> None:
        ran.append(id(ctx))
        ctx.stop.wait()

    monkeypatch.setattr(background, "TASKS", [])
    monkeypatch.setattr(background, "_factories", [task])
    monkeypatch.setattr(background, "CLAIM_RETRY_S", 0.1)
    def runner(machine: str) -> background.Runner:  # each its own home, as on another machine
        return background.Runner(Settings(home=tmp_path / machine, database_url=any_store.url),
                                 any_store)

    async def scenario() -> None:
        first, second = runner("a"), runner("b")
        first.start()
        second.start()
        await asyncio.sleep(0.5)
        assert (first.ctx.primary, second.ctx.primary) == (True, False)
        assert ran == [id(first.ctx)]
        await first.stop()                      # the holder goes away...
        for _ in range(100):
            if second.ctx.primary and len(ran) == 2:
                break
            await asyncio.sleep(0.05)
        assert second.ctx.primary and ran == [id(first.ctx), id(second.ctx)]  # ...one takes over
        third = runner("c")
        third.start()
        await asyncio.sleep(0.3)
        assert not third.ctx.primary and len(ran) == 2
        await second.stop()
        await third.stop()

    # its own thread and event loop (Playwright's sync API may hold this thread's loop)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(scenario())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]
    assert not thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "background-claim"]
