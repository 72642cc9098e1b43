"""The threads that take turns running the event loop (leader/followers).

One thread at a time leads: it waits for events and handles them, and runs a
handler right there when a request is complete, with no hand-off to another
thread. When the leader is about to wait inside a handler, the lead passes
to a follower first, and the old leader finishes its request on its own:

- a wait fasthttp can see (a body that has not arrived, output past its
  bound) hands the lead on before it starts: hand_on_now();
- a wait it cannot see (time.sleep, a database, a CGI child, a long
  computation) is noticed by the watchdog, watch(), which runs on the thread
  that called serve_forever(): a handler still running ``handoff_after``
  seconds after it began gets the lead taken from it;
- a handler on a connection whose last handler waited is likely to wait
  too: the lead goes on before it starts (Connection.run_handler), so a
  client of a slow endpoint stalls the loop once, not once per request.

The new leader is an idle spare thread, or a new one while fewer than
``max_handlers`` handlers run at once; otherwise the lead stays where it is
and complete requests wait their turn. The old leader, its request done,
becomes a spare: at most ``max_spares`` of them wait, each for at most
``spare_idle`` seconds, so the pool shrinks after a burst.

Go's runtime does the same for goroutines blocked in system calls (its
sysmon hands the processor to another thread); the watchdog here costs one
wake-up per ``handoff_after`` while requests are being handled, none when the
server is idle, and no thread switch per request.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

__all__ = ["Crew", "Member"]

_log = logging.getLogger("fasthttp.engine")


class Member:
    """One thread of the crew: it waits on its own lock to be promoted."""

    __slots__ = ("wake", "__weakref__")

    def __init__(self) -> None:
        self.wake = threading.Lock()
        self.wake.acquire()


class Crew:
    """Leader/followers threads for an event loop; see the module doc.

    lead(member) is the event loop, run by a member while it leads; it must
    return soon after ``crew.leader`` is no longer that member (checked after
    each handler: see running() and finished())."""

    def __init__(self, lead: Callable[[Member], None], *, name: str, max_handlers: int,
                 handoff_after: float, max_spares: int = 4, spare_idle: float = 10.0) -> None:
        self._lead = lead
        self._name = name
        self.max_handlers = max(1, max_handlers)
        self.handoff_after = handoff_after
        self.max_spares = max_spares
        self.spare_idle = spare_idle
        self._lock = threading.Lock()
        self.leader: Optional[Member] = None
        self._spares: list[Member] = []
        self.threads = 0            # members alive
        self.detached = 0           # members finishing a handler off the loop
        # The handler the leader runs now (None: none), and since when.
        self._current: Any = None
        self._seq = 0
        self._since = 0.0
        self._stopping = False
        # The watchdog sleeps while no handler runs for a while.
        self._watch = threading.Condition(threading.Lock())
        self._watch_parked = False
        self._saturated_warned = False
        self._spawned = 0
        self.on_detach: Callable[[Any], None] = lambda item: None

    # -- the leader's side ---------------------------------------------------

    def start(self) -> None:
        """Start the first leader."""
        member = Member()
        with self._lock:
            self.leader = member
            self.threads += 1
        self._spawn(member)

    def running(self, item: Any) -> None:
        """The leader starts a handler for `item` (a connection)."""
        self._seq += 1
        self._since = time.monotonic()
        self._current = item
        if self._watch_parked:
            with self._watch:
                self._watch_parked = False
                self._watch.notify()

    def finished(self, member: Member) -> bool:
        """The handler has returned: True if `member` still leads (else it
        was detached meanwhile and now finishes its connection on its own)."""
        with self._lock:
            if self.leader is member:
                self._current = None
                return True
            return False

    def detached_done(self) -> None:
        """A detached member has handed its connection back."""
        with self._lock:
            self.detached -= 1

    def hand_on_now(self, item: Any) -> None:
        """The handler for `item` is about to wait: if it runs on the
        leader, pass the lead on first (a wait fasthttp can see)."""
        if self._current is item:
            self._hand_on(self._seq, item)

    # -- handing the lead on ---------------------------------------------------

    def _hand_on(self, seq: int, item: Any) -> bool:
        """Take the lead from the member running handler number `seq` (on
        `item`) and give it to a spare or a new thread. False when it cannot
        (the handler ended meanwhile, or max_handlers run already)."""
        start = False
        with self._lock:
            if self._seq != seq or self._current is not item or self._stopping:
                return False
            if self.detached + 1 >= self.max_handlers:
                self._warn_saturated()
                return False
            if self._spares:
                member = self._spares.pop()
            else:
                member = Member()
                self.threads += 1
                start = True
            self.leader = member
            self.detached += 1
            self._current = None
            self.on_detach(item)
        if start:
            return self._spawn(member)
        member.wake.release()
        return True

    def _spawn(self, member: Member) -> bool:
        try:
            self._spawned += 1
            threading.Thread(target=self._run, args=(member,), daemon=True,
                             name="%s-%d" % (self._name, self._spawned)).start()
            return True
        except RuntimeError as exc:     # "can't start new thread" (RLIMIT_NPROC, pids)
            with self._lock:
                self.threads -= 1
                if self.leader is member:
                    self.leader = None      # the next member to free up takes it
            _log.warning("cannot start a thread (%s); the event loop waits for a busy one",
                         exc)
            return False

    def _warn_saturated(self) -> None:
        if not self._saturated_warned:
            self._saturated_warned = True
            _log.warning("all %d handler threads are busy; further requests wait "
                         "(raise max_connections or max_threads to allow more)",
                         self.max_handlers)

    # -- members ---------------------------------------------------------------

    def _run(self, member: Member) -> None:
        while True:
            if self.leader is member:
                self._lead(member)
            with self._lock:
                if self.leader is member and not self._stopping:
                    continue            # (the loop returned without losing the lead)
                if self.leader is None and not self._stopping:
                    self.leader = member    # nobody leads (a spawn failed): take it
                    continue
                if self._stopping or len(self._spares) >= self.max_spares:
                    self.threads -= 1
                    return
                self._spares.append(member)
            if not member.wake.acquire(timeout=self.spare_idle):
                with self._lock:
                    if member in self._spares:
                        self._spares.remove(member)     # idle too long: the pool shrinks
                        self.threads -= 1
                        return
                member.wake.acquire()   # promoted meanwhile: its release is coming

    # -- the watchdog ----------------------------------------------------------

    def watch(self, until: Callable[[], bool], tick: Callable[[], None],
              tick_interval: float) -> None:
        """The watchdog, on the serve_forever() thread, until until() is
        true; tick() (service_actions and timers) every tick_interval."""
        bound = self.handoff_after
        next_tick = time.monotonic() + tick_interval
        quiet_since = time.monotonic()
        last_seq = -1
        while not until():
            now = time.monotonic()
            if now >= next_tick:
                tick()
                next_tick = now + tick_interval
            item, seq, since = self._current, self._seq, self._since
            if item is not None:
                due = since + bound
                if now < due:
                    time.sleep(due - now)
                elif not self._hand_on(seq, item):
                    time.sleep(bound / 2)     # at the thread bound: look again
                continue
            if seq != last_seq:
                last_seq, quiet_since = seq, now
            if now - quiet_since < 0.1:
                time.sleep(bound / 2)
                continue
            # Quiet for a while: sleep until a handler starts or the next tick.
            with self._watch:
                self._watch_parked = True
                if self._current is None and self._seq == last_seq and not until():
                    self._watch.wait(max(0.0, next_tick - time.monotonic()))
                self._watch_parked = False

    def nudge(self) -> None:
        """Wake the watchdog if it sleeps (to look at its until())."""
        with self._watch:
            self._watch.notify_all()

    def stop(self) -> None:
        """Members end once they are done (spares at once)."""
        with self._lock:
            self._stopping = True
            spares, self._spares = self._spares, []
            self.leader = None
        for member in spares:
            member.wake.release()
        with self._watch:
            self._watch.notify_all()
