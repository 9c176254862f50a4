"""The courier: the thread that sends a worker's batches while the worker prepares and records others."""

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailwright.delivery.compose import Envelope
from mailwright.delivery.retry import classify
from mailwright.delivery.schemas import SendReport
from mailwright.delivery.senders import Sender, SendResult


@dataclass
class Ready:
    """A rendered message: how to build and sign it, and what its `Email Sent` event says."""

    id: int
    public_id: str
    contact_id: int
    build: Callable[[], Envelope]
    event: dict[str, Any]
    marketing: bool


@dataclass
class Batch:
    """Claimed rows on their way: prepared, handed to the courier, answers to record."""

    size: int  # how many rows were asked for (fewer claimed: nothing more is due)
    report: SendReport
    ready: list[Ready] = field(default_factory=list)
    results: dict[int, SendResult | str] = field(default_factory=dict)
    sent: threading.Event = field(default_factory=threading.Event)


class Courier:
    """The thread that talks to the server, one message after another in the order handed over.

    It sends a batch while the worker thread records the one before and claims, renders and signs the
    next: the wait for the server's replies overlaps that work (sockets release the GIL).
    """

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.blocked = threading.Event()  # a 5.7.x refusal: the rest would be refused too
        self.failure: BaseException | None = None
        self._abandon = False
        self._queue: queue.SimpleQueue[tuple[Batch, int, Envelope | None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mailwright-send", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            batch, message_id, envelope = item
            if envelope is None:  # the end of a batch
                batch.sent.set()
            elif not (self.blocked.is_set() or self._abandon or self.failure is not None):
                # Left unsent otherwise: recording gives such rows back to the queue untouched.
                try:
                    result = self.sender.send(envelope.envelope_from, [envelope.recipient], envelope.data)
                except BaseException as exc:  # a bug in a sender: raised in the worker thread
                    self.failure = exc
                    continue
                batch.results[message_id] = result
                if classify(result) == "sender_blocked":
                    # Each further refusal would hurt the sender's reputation more.
                    self.blocked.set()

    def hand_over(self, batch: Batch) -> None:
        """Build and sign each message of the batch and queue it for sending; does not wait."""
        for item in batch.ready:
            if self.blocked.is_set():
                break
            try:
                envelope = item.build()
            except (ValueError, TypeError) as exc:  # e.g. a line break in an address
                batch.results[item.id] = f"message: {exc}"
                continue
            self._queue.put((batch, item.id, envelope))
        self._queue.put((batch, 0, None))

    def wait(self, batch: Batch) -> None:
        """Until every message of the batch was sent (or left unsent after a refusal)."""
        batch.sent.wait()
        if self.failure is not None:
            raise self.failure

    def close(self, *, abandon: bool) -> None:
        """Stop the thread; `abandon`: after an error, send nothing more (those rows stay `sending`)."""
        self._abandon = abandon
        self._queue.put(None)
        self._thread.join()
