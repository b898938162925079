# SPDX-License-Identifier: BSD-2-Clause
"""A real Prometheus (Debian's /usr/bin/prometheus) for the e2e tests: its own
storage in a temp dir, listening on 127.0.0.1:<free port>, scraping given
targets every second and evaluating deploy/prometheus/steer-rules.yaml.
Stopped by its PID and its directory removed by close()."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from sandbox import kill_pid

PROMETHEUS = "/usr/bin/prometheus"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, sb, targets, rule_files=(), job="steerd"):
        self.sb = sb
        self.dir = tempfile.mkdtemp(prefix="prometheus-", dir=sb.tmp)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None
        cfg = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms",
                       "evaluation_interval": "1s"},
            "rule_files": [os.path.abspath(f) for f in rule_files],
            "scrape_configs": [{"job_name": job,
                                "static_configs": [{"targets": list(targets)}]}],
        }
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        self.log = os.path.join(self.dir, "prometheus.log")

    def start(self, timeout=30.0):
        log = open(self.log, "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir)
        log.close()
        self.sb.procs.append(self.proc)
        self.sb.closers.append(self.close)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {self.proc.returncode}: {self.logtext()}")
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready after {timeout}s: {self.logtext()}")

    def logtext(self):
        try:
            return open(self.log).read()[-3000:]
        except OSError:
            return ""

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                doc = json.load(r)
        except urllib.error.HTTPError as e:
            doc = json.load(e)
        return doc

    def query(self, expr, at=None):
        """The result of an instant query (raises with Prometheus's error if it fails)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        doc = self.api("query", **params)
        if doc.get("status") != "success":
            raise AssertionError(f"query failed: {doc.get('errorType')}: {doc.get('error')}\n{expr}")
        return doc["data"]

    def vector(self, expr, at=None):
        """[(labels, value)] of an instant-vector query."""
        data = self.query(expr, at)
        assert data["resultType"] == "vector", (expr, data["resultType"])
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def wait(self, expr, until, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            v = self.vector(expr)
            if until(v):
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting on {expr}: {v}\n{self.logtext()}")
            time.sleep(0.2)

    def close(self):
        try:
            kill_pid(self.proc, signal.SIGTERM, timeout=10)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
