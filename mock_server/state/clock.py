"""The simulated clock: a pure value, anchored so that every worker computes the same time."""

from __future__ import annotations

from dataclasses import dataclass, replace

CLOCK_MODES = ("wall", "manual", "polls")


@dataclass(frozen=True)
class Clock:
    """Simulated time = sim_anchor + (real time - real_anchor) x speed in `wall` mode.

    In `manual` and `polls` modes time stands still at sim_anchor and moves only when
    advanced; in `polls` mode each job read (and each download PUT) moves that job
    (or download) one step on its own, which the lifecycle takes as a floor.
    """

    mode: str
    speed: float
    sim_anchor: float
    real_anchor: float

    def now(self, real_now: float) -> float:
        if self.mode == "wall":
            return self.sim_anchor + (real_now - self.real_anchor) * self.speed
        return self.sim_anchor

    def advanced(self, seconds: float, real_now: float) -> Clock:
        """Jump forward; the anchor moves so wall mode keeps running from the new time."""
        return replace(self, sim_anchor=self.now(real_now) + seconds, real_anchor=real_now)

    def reconfigured(self, mode: str, speed: float, real_now: float) -> Clock:
        """Change mode or speed without a jump in simulated time."""
        return Clock(mode=mode, speed=speed, sim_anchor=self.now(real_now), real_anchor=real_now)
