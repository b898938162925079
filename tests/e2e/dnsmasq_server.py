# SPDX-License-Identifier: BSD-2-Clause
"""A real DNS server for the e2e tests: dnsmasq (Debian's dnsmasq-base)
answering from a hosts file the test rewrites (SIGHUP reloads it) and from
SRV records given at start."""
import os
import signal
import subprocess
import time

from sandbox import kill_pid

DNS_IP = "10.244.53.53"  # on svc0 in the sandbox namespace (test_dns.py)
DNSMASQ = "/usr/sbin/dnsmasq"


class Dnsmasq:
    """dnsmasq on LISTEN:PORT (default DNS_IP:53 in the sandbox namespace;
    netns=False: in the host's, on 127.0.0.1 only), authoritative for
    steer.test (NXDOMAIN for names it does not have), TTL 2 s. Stopped by
    its PID."""

    def __init__(self, sb, hosts, srv=(), listen=None, port=53, netns=True):
        self.sb = sb
        self.listen = listen or DNS_IP
        self.port = port
        self.netns = netns
        self.dir = os.path.join(sb.tmp, "dnsmasq")
        os.makedirs(self.dir, exist_ok=True)
        self.hosts_path = os.path.join(self.dir, "hosts")
        self.srv = list(srv)
        self.proc = None
        self.write_hosts(hosts)

    def write_hosts(self, hosts):
        tmp = self.hosts_path + ".tmp"
        with open(tmp, "w") as f:
            for name, addrs in hosts.items():
                for a in addrs:
                    f.write(f"{a} {name}\n")
        os.rename(tmp, self.hosts_path)

    def start(self):
        argv = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                f"--addn-hosts={self.hosts_path}", "--local=/steer.test/",
                f"--listen-address={self.listen}", "--bind-interfaces", f"--port={self.port}",
                "--user=root", "--pid-file=", "--local-ttl=2", "--neg-ttl=1",
                "--log-queries", f"--log-facility={os.path.join(self.dir, 'log')}"]
        argv += [f"--srv-host={s}" for s in self.srv]
        wrap = self.sb.nsenter if self.netns else list
        self.proc = subprocess.Popen(wrap(argv), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.sb.procs.append(self.proc)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited: " + self.proc.stderr.read().decode())
            r = subprocess.run(wrap(["ss", "-lun", f"src {self.listen}:{self.port}"]),
                               stdout=subprocess.PIPE, text=True)
            if f"{self.listen}:{self.port}" in r.stdout:
                return self
            time.sleep(0.05)
        raise RuntimeError("dnsmasq not listening")

    def reload(self, hosts):
        self.write_hosts(hosts)
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        kill_pid(self.proc, signal.SIGTERM)
