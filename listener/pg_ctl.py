"""initdb + pg_ctl for the throwaway cluster (`listener.local_postgres`).

The few lines of pytest-postgresql's executor the demo needs, so the runtime image carries
neither pytest nor its plugins: `receptor-planner demo` starts a cluster without them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# initdb and the server see one locale whatever the caller's environment says.
LOCALE_ENV = {"LC_ALL": "C.UTF-8", "LC_CTYPE": "C.UTF-8", "LANG": "C.UTF-8"}
TIMEOUT_S = 120


class PgCtlExecutor:
    """One data directory: `start()` (initdb on first use), `stop()`, `running()`.

    `process` is the last `pg_ctl start` launcher; with `startparams="-w"` it exits once the
    server accepts connections, non-zero when the server could not start.
    """

    def __init__(
        self,
        *,
        executable: str,
        host: str,
        port: int,
        datadir: str,
        unixsocketdir: str,
        logfile: str,
        startparams: str,
        dbname: str,
        user: str = "postgres",
        postgres_options: str = "",
    ) -> None:
        self.executable = executable
        self.host = host
        self.port = port
        self.datadir = datadir
        self.unixsocketdir = unixsocketdir
        self.logfile = logfile
        self.startparams = startparams.split()
        self.dbname = dbname
        self.user = user
        self.postgres_options = postgres_options
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **LOCALE_ENV}
        env.pop("PGDATA", None)
        return env

    def _initdb(self) -> None:
        command = [self.executable, "initdb", "--pgdata", self.datadir]
        command += ["-o", f"--username={self.user} --auth=trust"]
        subprocess.run(command, env=self._env(), check=True, capture_output=True, timeout=TIMEOUT_S)

    def start(self) -> PgCtlExecutor:
        if not (Path(self.datadir) / "PG_VERSION").exists():
            self._initdb()
        socket_dir = self.unixsocketdir.replace("'", "''")
        server_options = (
            f"-F -p {self.port} -c log_destination=stderr "
            f"-c logging_collector=off -c unix_socket_directories='{socket_dir}' "
            f"{self.postgres_options}"
        )
        command = [self.executable, "start", "-D", self.datadir, "-o", server_options]
        command += ["-l", self.logfile, *self.startparams]
        # pg_ctl's chatter ("waiting for server to start") must not mix into our stdout.
        self.process = subprocess.Popen(command, env=self._env(), stdout=subprocess.DEVNULL)
        return self

    def running(self) -> bool:
        if not Path(self.datadir).exists():
            return False
        status = subprocess.run(
            [self.executable, "status", "-D", self.datadir],
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        return status.returncode == 0

    def stop(self) -> None:
        subprocess.run(
            [self.executable, "stop", "-D", self.datadir, "-m", "fast"],
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        if self.process is not None:
            self.process.wait(timeout=TIMEOUT_S)
