"""The app's internal ``createNotification`` calls, as one Poisson-timed Locust user.

The service exposes them as an admin route (``X-Admin-Token``; the target
description's ``notifications.create``, none when it declares none); the producer
picks a random signed-up user of the run (from Redis, so any process's users) for each.
"""

from __future__ import annotations

import random
import time

from locust import FastHttpUser, task

from loadtests.clients.scenario import scenario_for


class NotificationProducer(FastHttpUser):
    """The app's internal ``createNotification`` calls, via the admin route, Poisson-timed."""

    fixed_count = 1
    weight = 1

    def wait_time(self) -> float:
        rate = scenario_for(self.environment).options.notification_rate_per_s
        return random.expovariate(rate) if rate > 0 else 3600.0

    @task
    def produce(self) -> None:
        scn = scenario_for(self.environment)
        spec = scn.target.description.notifications
        if scn.options.notification_rate_per_s <= 0 or spec is None or spec.create is None:
            return  # Locust runs a task before the first wait: produce nothing at all
        user_id = scn.random_user()
        if user_id is None:
            return
        request = scn.target.request(spec.create, {
            "user_id": user_id,
            "admin_token": scn.options.admin_token,
            "title": "You were mentioned",
            "content": f"at {time.time():.3f}",
        })
        with self.client.request(
            request.method,
            request.path,
            data=request.body.decode() if request.body else None,
            headers=request.headers,
            name="/api/notifications [admin]",
            catch_response=True,
        ) as resp:
            if resp.status_code not in request.expect_status:
                resp.failure(f"create notification: HTTP {resp.status_code}")
                if scn.recorder is not None:
                    scn.recorder.count("errors")
                return
        if scn.recorder is not None:
            scn.recorder.count("notifications_created")
