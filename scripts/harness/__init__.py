"""The process harness: the local stack in real processes, for `make demo`, `make bench` and the
end-to-end and reliability tests.

- `process`: one process we started (`Proc`; `WorkerProc` and `WebProc` know when they are
  ready).
- `simulator`: the Todoist simulator in its own process and its control endpoints (`SimProc`).
- `stack`: start, wait for, watch and stop them (`Stack`), their environment (`stack_env`), and
  one-shot `manage.py` commands (`run_manage`).
- `api`: the planner's HTTP API as the bot uses it (`Api`, `RecordingApi`).

Standard library plus `requests`; no Django import, so a caller may or may not have Django set
up. The simulator listens on loopback only and gets its tokens through the environment, never
the command line; the web server binds 127.0.0.1.

    env = stack_env(
        database_url="sqlite:///var/demo/demo.sqlite3",
        todoist_token=TOKEN,
        shared_token_users="demo",  # who the shared token syncs: nobody unless opted in
    )
    run_manage(["migrate", "--noinput"], env=env)
    with Stack(env=env, log_dir=Path("var/demo/logs")) as stack:
        sim = stack.start_simulator(tokens=[TOKEN])  # waits; later processes use it
        stack.start_qcluster()
        web = stack.start_web()  # or stack.start_gunicorn(), as in production
        stack.wait_ready()
        api = Api(web.url, api_token)
        run = api.wait_for_run(api.trigger_sync(), stack=stack)
        sim.stats(), sim.tasks(TOKEN), sim.configure(error_rate=0.2)
"""

from __future__ import annotations

from scripts.harness.api import Api, RecordingApi
from scripts.harness.process import REPO_ROOT, Proc, StackError
from scripts.harness.simulator import SimProc
from scripts.harness.stack import Stack, api_token_from_seed, run_manage, stack_env

__all__ = [
    "REPO_ROOT",
    "Api",
    "Proc",
    "RecordingApi",
    "SimProc",
    "Stack",
    "StackError",
    "api_token_from_seed",
    "run_manage",
    "stack_env",
]
