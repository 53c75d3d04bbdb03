"""The server's one frame-deadline timer: who is closed, who is not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pysmbd.server.frame_deadline import FrameDeadline, FrameDeadlines


@dataclass
class Core:
    partial_frame_bytes: int = 0
    frames_received: int = 0


class Owner:
    def __init__(self, paused: bool = False) -> None:
        self.paused = paused
        self.expired = 0

    def frame_paused(self) -> bool:
        return self.paused

    def frame_expired(self) -> None:
        self.expired += 1


def test_only_a_frame_left_incomplete_past_the_timeout_closes_its_connection():
    async def scenario():
        deadlines = FrameDeadlines(lambda: 0.4)
        dripping, completing, paused, idle = Owner(), Owner(), Owner(paused=True), Owner()
        cores = {owner: Core() for owner in (dripping, completing, paused, idle)}
        watched = {owner: FrameDeadline(deadlines, owner) for owner in cores}
        for owner in (dripping, completing, paused):
            cores[owner].partial_frame_bytes = 10  # a frame began
            watched[owner].watch(cores[owner])
        watched[idle].watch(cores[idle])  # read ended on a frame boundary: nothing to watch
        assert len(deadlines) == 3
        await asyncio.sleep(0.2)
        cores[completing].partial_frame_bytes, cores[completing].frames_received = 0, 1
        watched[completing].watch(cores[completing])
        assert len(deadlines) == 2
        await asyncio.sleep(1.0)
        assert (dripping.expired, completing.expired, paused.expired, idle.expired) == (1, 0, 0, 0)
        assert len(deadlines) == 1  # the paused one is still watched; the expired one is not
        paused.paused = False
        await asyncio.sleep(1.0)
        assert paused.expired == 1
        assert len(deadlines) == 0

    asyncio.run(scenario())


def test_a_new_frame_after_a_completed_one_gets_its_whole_timeout():
    async def scenario():
        deadlines = FrameDeadlines(lambda: 0.6)
        owner, core = Owner(), Core(partial_frame_bytes=5)
        deadline = FrameDeadline(deadlines, owner)
        deadline.watch(core)
        await asyncio.sleep(0.4)
        core.frames_received, core.partial_frame_bytes = 1, 7  # that frame completed, and the next one began
        deadline.watch(core)
        await asyncio.sleep(0.4)  # 0.8 s since the first frame began, 0.4 s since this one did
        assert owner.expired == 0
        await asyncio.sleep(0.6)
        assert owner.expired == 1

    asyncio.run(scenario())
