"""SMTP sender: reused connections, STARTTLS or implicit TLS, AUTH, a rate limit, per-domain concurrency."""

import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from mailwright.delivery.senders.base import SendResult

# A connection idle longer than this is checked with NOOP before use: servers drop idle clients, and
# finding out during MAIL FROM would leave us unsure whether to send again.
_IDLE_CHECK_SECONDS = 5.0


@dataclass
class _Connection:
    smtp: smtplib.SMTP
    last_used: float


@dataclass
class _DomainPool:
    """The connections to one destination domain and the cap on simultaneous sends to it."""

    slots: threading.BoundedSemaphore
    idle: list[_Connection] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RateLimiter:
    """Spaces sends at most `per_second` apart across all threads (0: unlimited)."""

    def __init__(
        self,
        per_second: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._monotonic, self._sleep = monotonic, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next send is allowed."""
        if not self.interval:
            return
        with self._lock:
            now = self._monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            self._sleep(at - now)


class SmtpSender:
    """Sends through an SMTP server (a relay or a smart host), keeping connections open between messages.

    Each recipient domain gets its own connections, at most `per_domain_concurrency` sending at once,
    so one slow or throttling provider cannot hold up the others when several threads or batches send.
    """

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        messages_per_second: float = 0.0,
        per_domain_concurrency: int = 4,
        local_hostname: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"smtp_security must be none, starttls or tls, not {security!r}")
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.timeout = timeout
        self.per_domain_concurrency = max(1, per_domain_concurrency)
        self.local_hostname = local_hostname
        self.tls_context = tls_context
        self.limiter = RateLimiter(messages_per_second)
        self._pools: dict[str, _DomainPool] = {}
        self._pools_lock = threading.Lock()
        self.connections_opened = 0

    def _pool(self, domain: str) -> _DomainPool:
        with self._pools_lock:
            pool = self._pools.get(domain)
            if pool is None:
                pool = self._pools[domain] = _DomainPool(
                    threading.BoundedSemaphore(self.per_domain_concurrency)
                )
            return pool

    def _context(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self.connections_opened += 1
        return smtp

    @contextmanager
    def _connection(self, pool: _DomainPool) -> Iterator[_Connection]:
        """A connection for this send: an idle one (checked if it idled long) or a new one."""
        conn: _Connection | None = None
        with pool.lock:
            if pool.idle:
                conn = pool.idle.pop()
        if conn is not None and time.monotonic() - conn.last_used > _IDLE_CHECK_SECONDS:
            try:
                alive = conn.smtp.noop()[0] == 250
            except (smtplib.SMTPException, OSError):
                alive = False
            if not alive:
                _close(conn.smtp)
                conn = None
        if conn is None:
            conn = _Connection(self._connect(), time.monotonic())
        yield conn

    def send(self, envelope_from: str, recipients: list[str], message: bytes) -> SendResult:
        """Send one message; a refusal or a failed connection comes back as a result, never raised."""
        domain = recipients[0].rsplit("@", 1)[-1].lower() if recipients else ""
        pool = self._pool(domain)
        self.limiter.wait()
        with pool.slots:
            try:
                with self._connection(pool) as conn:
                    result, reusable = _sendmail(conn.smtp, envelope_from, recipients, message)
                    if reusable:
                        conn.last_used = time.monotonic()
                        with pool.lock:
                            pool.idle.append(conn)
                    else:
                        _close(conn.smtp)
                    return result
            except smtplib.SMTPResponseException as exc:  # refused while connecting (greeting, AUTH, TLS)
                return SendResult.refused(exc.smtp_code, _text(exc.smtp_error), stage="mail")
            except (smtplib.SMTPException, OSError) as exc:
                return SendResult.unreachable(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Say QUIT on every idle connection."""
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            with pool.lock:
                idle, pool.idle = pool.idle, []
            for conn in idle:
                try:
                    conn.smtp.quit()
                except (smtplib.SMTPException, OSError):
                    _close(conn.smtp)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _close(smtp: smtplib.SMTP) -> None:
    with suppress(OSError):
        smtp.close()


def _sendmail(
    smtp: smtplib.SMTP, envelope_from: str, recipients: list[str], message: bytes
) -> tuple[SendResult, bool]:
    """One MAIL/RCPT/DATA exchange; returns the result and whether the connection can be reused."""
    try:
        refused = smtp.sendmail(envelope_from, recipients, message)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return SendResult.refused(code, _text(text), stage="rcpt"), True
    except smtplib.SMTPSenderRefused as exc:
        return SendResult.refused(exc.smtp_code, _text(exc.smtp_error), stage="mail"), True
    except smtplib.SMTPDataError as exc:
        return SendResult.refused(exc.smtp_code, _text(exc.smtp_error), stage="data"), True
    except smtplib.SMTPServerDisconnected as exc:
        return SendResult.unreachable(f"server disconnected: {exc}"), False
    except smtplib.SMTPResponseException as exc:  # 421 and the like: the server is closing on us
        return SendResult.refused(exc.smtp_code, _text(exc.smtp_error), stage="mail"), False
    except (smtplib.SMTPException, OSError) as exc:
        return SendResult.unreachable(f"{type(exc).__name__}: {exc}"), False
    if refused:  # some recipients refused, others taken: report the first refusal
        code, text = next(iter(refused.values()))
        return SendResult.refused(code, _text(text), stage="rcpt"), True
    return SendResult.accepted(), True
