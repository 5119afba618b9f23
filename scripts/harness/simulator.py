"""The Todoist simulator in a process of its own, and its control endpoints (`/__sim__/...`).

`SimProc` answers the calls the in-process `todoist_sim.Simulator` answers (`url`, `stats()`,
`configure()`, `tasks()`, `state()`, `reset()`), so a caller can use either.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

from scripts.harness.process import Proc

# The simulator's last start-up line: its URL and its account names, in the order of its tokens.
SIM_BANNER = re.compile(r"serving (http://\S+/api/v1) for accounts: ([^\n]*)")


class SimProc(Proc):
    role = "simulator"
    # The state of an account with 10,000 tasks is several MB of JSON.
    control_timeout = 60.0

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        super().__init__(name, popen, log_path)
        self.tokens: list[str] = []
        self.accounts: dict[str, str] = {}  # token -> account name, from the banner
        self.session = requests.Session()

    def ready(self) -> bool:
        match = SIM_BANNER.search(self.log_text())
        if not match:
            return False
        self.url = match.group(1)
        names = [name.strip() for name in match.group(2).split(",") if name.strip()]
        # Named by the simulator, not guessed here: two tokens that end alike get distinct names.
        self.accounts = dict(zip(self.tokens, names, strict=False))
        return True

    def account(self, account_or_token: str) -> str:
        """The account name of a token it was started with; any other text is a name already."""
        return self.accounts.get(account_or_token, account_or_token)

    # -- control endpoints ----------------------------------------------------------------------

    def control(self, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
        root = self.url.removesuffix("/api/v1")
        response = self.session.request(
            method, f"{root}/__sim__/{what}", json=body, timeout=self.control_timeout
        )
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def config(self) -> dict[str, Any]:
        return self.control("GET", "config")

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Switch faults and limits of the running simulator (e.g. error_rate=0.2); answers its
        whole config."""
        return self.control("POST", "config", changes)

    def reset(self) -> None:
        """Forget all tasks, dedupe memory, limit windows and stats (accounts stay)."""
        self.control("POST", "reset", {})

    def tasks(self, account_or_token: str) -> list[dict[str, Any]]:
        """Every task of one account, checked and deleted ones included."""
        return self.state()["tasks"][self.account(account_or_token)]

    def person_task(
        self, account_or_token: str, task_id: str, action: str = "update", **fields: Any
    ) -> dict[str, Any]:
        """Change one task as a person would in the Todoist app (as `Simulator.person_task`):
        "update" (content, description, priority, due, labels), "complete", "reopen", "delete"
        or "move" (project_id=...). Answers the task afterwards."""
        body = {"account": self.account(account_or_token), "task_id": task_id, "action": action}
        return self.control("POST", "person/task", {**body, **fields})


def sim_tokens_env(tokens: Iterable[str]) -> dict[str, str]:
    """The environment entry that gives the simulator its tokens: never the command line, which
    `ps` shows to every user of the machine."""
    tokens = list(tokens)
    if not tokens or any("," in token or not token.strip() for token in tokens):
        raise ValueError("the simulator needs non-empty tokens without commas")
    return {"TODOIST_SIM_TOKENS": ",".join(tokens)}
