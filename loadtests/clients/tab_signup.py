"""A tab's sign-up: the description's request, overload answers retried, or a ready token."""

from __future__ import annotations

import dataclasses
import time

import gevent
from locust.exception import StopUser

from loadtests.clients.names import SIGN_UP_NAME, SIGN_UP_RETRIED_NAME
from loadtests.clients.providers.polling import StatusError
from loadtests.clients.signup_retry import SIGN_UP_MAX_ATTEMPTS, sign_up_delay_s, sign_up_verdict
from loadtests.clients.tab_base import TabBase
from loadtests.targets.compiled import Request, Session


class SignUpTab(TabBase):
    """Sign-up for :class:`~loadtests.clients.chat_user.ChatUser` (``abstract``)."""

    abstract = True

    def _sign_up(self) -> Session:
        """Sign up (the description's request) or take a ready token; retried, then StopUser."""
        name = f"tab-{self.rng.randrange(10**9)}"
        target = self.target
        request = target.signup_request(name=name)
        if request is None:  # a tokens file
            tokens = target.ready_tokens()
            if not tokens:
                raise StopUser()
            session = target.session(token=self.rng.choice(tokens))
            return dataclasses.replace(session, user_id=name)
        body = self._sign_up_answer(request)
        if body is None:
            raise StopUser()
        try:
            session = target.session(answer=body)
        except (KeyError, ValueError) as exc:
            self._failed(SIGN_UP_NAME, 0.0, exc, request_type="POST")
            raise StopUser() from None
        if session.user_id is None:
            session = dataclasses.replace(session, user_id=name)
        self.scn.add_user(session.user_id)
        return session

    def _sign_up_answer(self, request: Request) -> bytes | None:
        """The sign-up's answer body, overload answers retried (``signup_retry``); None: gave up.

        A retried attempt is a failure under ``SIGN_UP_RETRIED_NAME`` and no error of the
        run; the attempt that gives up, or any other failure, is an error under
        ``SIGN_UP_NAME``.
        """
        started_s = time.monotonic()
        method = request.method
        for attempt in range(SIGN_UP_MAX_ATTEMPTS):
            status, body, problem, elapsed_ms = self._exchange(request)
            if status in request.expect_status:
                self._fired(SIGN_UP_NAME, elapsed_ms, len(body), request_type=method)
                return body
            verdict = sign_up_verdict(status=status, attempt=attempt,
                                      elapsed_s=time.monotonic() - started_s)
            self._fired(SIGN_UP_NAME if verdict.error else SIGN_UP_RETRIED_NAME, elapsed_ms,
                        len(body), request_type=method,
                        exception=problem or StatusError(f"sign-up: HTTP {status}"))
            if verdict.error:
                self._count("errors")
            if not verdict.retry:
                return None
            gevent.sleep(sign_up_delay_s(attempt=attempt, rng=self.rng))
        return None

