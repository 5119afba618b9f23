"""The planner's HTTP API as the Telegram bot uses it (token auth), for the demo and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import requests

from scripts.harness.process import StackError

if TYPE_CHECKING:
    from scripts.harness.stack import Stack

FINISHED = ("succeeded", "failed", "deferred")


class Api:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.timeout = timeout

    def raw(self, method: str, path: str, **kw: Any) -> requests.Response:
        """Any request; answers the response whatever its status."""
        return self.session.request(
            method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **kw
        )

    def request(self, method: str, path: str, expect: Iterable[int] = (200,), **kw: Any) -> Any:
        """A request that must answer one of the `expect` statuses; answers its JSON."""
        response = self.raw(method, path, **kw)
        if response.status_code not in tuple(expect):
            raise StackError(
                f"{method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None

    def trigger_sync(self, chat_id: int | None = None) -> str:
        body = {} if chat_id is None else {"chat_id": chat_id}
        return self.request("POST", "/v1/sync/todoist", expect=(202,), json=body)["job_id"]

    def sync_status(self, job_id: str | None = None) -> dict[str, Any]:
        params = {"job_id": job_id} if job_id else None
        return self.request("GET", "/v1/sync/todoist/status", params=params)

    def connect_token(self, token: str) -> dict[str, Any]:
        return self.request("PUT", "/v1/sync/todoist/token", json={"token": token})

    def tasks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.request("GET", "/v1/tasks", params={"page": page})
            out += data["results"]
            if not data.get("next"):
                return out
            page += 1

    def patch_task(self, task_id: int, **fields: Any) -> dict[str, Any]:
        return self.request("PATCH", f"/v1/tasks/{task_id}", json=fields)

    def wait_for_run(
        self,
        job_id: str,
        *,
        timeout: float = 120.0,
        interval: float = 0.2,
        on_poll: Callable[[dict[str, Any], float], None] | None = None,
        stack: Stack | None = None,
    ) -> dict[str, Any]:
        """Poll the run until it finished (succeeded, failed or deferred); StackError if the
        time runs out or, with `stack`, one of its processes died."""
        started = time.monotonic()
        while True:
            run = self.sync_status(job_id)
            elapsed = time.monotonic() - started
            if on_poll:
                on_poll(run, elapsed)
            if run["state"] in FINISHED:
                return run
            if stack is not None:
                stack.check_alive()
            if elapsed > timeout:
                raise StackError(
                    f"sync {job_id} still {run['state']} after {timeout:.0f} s"
                    + (f"\n{stack.tails()}" if stack else "")
                )
            time.sleep(interval)


class RecordingApi(Api):
    """`Api` that appends the text of every answer to `answers` (the secret scan reads them)."""

    def __init__(self, base_url: str, token: str, answers: list[str], **kw: Any) -> None:
        super().__init__(base_url, token, **kw)
        self.answers = answers

    def raw(self, method: str, path: str, **kw: Any) -> requests.Response:
        response = super().raw(method, path, **kw)
        self.answers.append(f"{method} {path} -> {response.status_code}\n{response.text}")
        return response
