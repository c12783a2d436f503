"""End-to-end test harness: real PostgreSQL 15, Redis, each service's
spawn-fcgi pool and worker (user by default; Cluster(services=("user",
"product")) for more) and nginx, all on free loopback ports. A cluster is a
stand of tools/up.sh, the one orchestrator behind make up (VAR_DIR under the
cluster's run directory), stopped by tools/down.sh; tests act on single
components through the PIDs the stand keeps in var/run.

Python 3 standard library only. The shared cluster of a test run is created by
tests/e2e/run.py (harness.setup()); a test module may start clusters of its
own (new_cluster: another stand, possibly on the same databases and Redis);
every stand is registered here and stopped by teardown(), also after a
failure or SIGTERM.

Environment read here:
  MS_E2E_PGDATA, MS_E2E_PGPORT  reuse the PostgreSQL cluster tests/run.sh
                                 started (a stand of tools/up.sh); else the
                                 harness starts such a stand under the workdir
  MS_E2E_WORKDIR                 where logs and sockets go (default: a new temp dir)
"""

import atexit
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def _services():
    """The services of services.list, in order (the first renders the 404s)."""
    out = []
    with open(os.path.join(ROOT, "services.list")) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words:
                out.append(words[0])
    return tuple(out)


SERVICES = _services()
PG_BIN = "/usr/lib/postgresql/15/bin"
NODE_SECRET = "your-super-secret-jwt-key-change-in-production"
NODE_REFRESH_SECRET = "your-super-secret-refresh-key-change-in-production"
PASSWORD = "Passw0rd!x"

SAN_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:")
LEAK_PATTERN = "ERROR: LeakSanitizer"

FORBIDDEN_USER_FIELDS = ("password_hash", "last_login_ip", "failed_login_attempts",
                         "locked_until", "deleted_at")
USER_FIELDS = ("id", "email", "name", "phone", "role", "status", "email_verified",
               "email_verified_at", "last_login_at", "created_at", "updated_at")
PROFILE_FIELDS = ("id", "user_id", "avatar_url", "bio", "date_of_birth", "gender",
                  "address_line1", "address_line2", "city", "state", "country",
                  "postal_code", "notification_preferences", "created_at", "updated_at")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

_procs_lock = threading.Lock()
_stoppers = []  # callables, newest last; teardown() runs them newest first


def _register_stopper(fn):
    with _procs_lock:
        _stoppers.append(fn)


def _unregister_stopper(fn):
    with _procs_lock:
        if fn in _stoppers:
            _stoppers.remove(fn)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Poll pred() until it returns a truthy value (returned) or timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polled predicates may fail transiently
            last_exc = e
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s%s" % (
                timeout, what, (" (last error: %r)" % last_exc) if last_exc else ""))
        time.sleep(interval)


def proc_state(pid):
    """Single-letter state from /proc/<pid>/stat, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return data[data.rfind(")") + 2:].split()[0]


def pid_alive(pid):
    st = proc_state(pid)
    return st is not None and st not in ("Z", "X")


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out.extend(int(x) for x in f.read().split())
            except FileNotFoundError:
                pass
    except FileNotFoundError:
        pass
    return [c for c in out if pid_alive(c)]


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children(p):
            if c not in out:
                out.append(c)
                todo.append(c)
    return out


def signal_pids(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def kill_and_wait(pids, sig=signal.SIGTERM, timeout=10.0, popen=None):
    """Send sig to pids, wait until all are gone, SIGKILL what is left."""
    pids = [p for p in pids if p]
    signal_pids(pids, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    left = [p for p in pids if pid_alive(p)]
    signal_pids(left, signal.SIGCONT)
    signal_pids(left, signal.SIGKILL)
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    return False


def base_env():
    """A clean environment for the processes we start (sanitizer options kept)."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
           "LANG": "C.UTF-8", "TZ": "UTC"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


# --------------------------------------------------------------------------
# JWT helpers (crafting hostile / foreign tokens)
# --------------------------------------------------------------------------

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    s += "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s)


def make_jwt(payload, secret=NODE_SECRET, alg="HS256", header=None):
    hdr = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing = b64url(json.dumps(hdr, separators=(",", ":"))) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")))
    if alg == "none":
        return signing + "."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    sig = hmac.new(secret.encode(), signing.encode(), digest).digest()
    return signing + "." + b64url(sig)


def node_access_token(user_id, email, role="user", secret=NODE_SECRET, ttl=900, iat=None, **extra):
    """An access token exactly as the Node service signs it (no jti)."""
    now = int(time.time()) if iat is None else iat
    payload = {"id": user_id, "email": email, "role": role, "type": "access",
               "iat": now, "exp": now + ttl, "iss": "user-service", "sub": user_id}
    payload.update(extra)
    return make_jwt(payload, secret)


def jwt_claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


# --------------------------------------------------------------------------
# minimal Redis client (RESP2)
# --------------------------------------------------------------------------

class RedisError(Exception):
    pass


def redis_command(port, *args, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        buf = ["*%d\r\n" % len(args)]
        payload = b""
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            payload += b"$%d\r\n%s\r\n" % (len(b), b)
        s.sendall(buf[0].encode() + payload)
        f = s.makefile("rb")
        return _resp_read(f)


def _resp_read(f):
    line = f.readline()
    if not line:
        raise RedisError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RedisError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data
    if t == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_resp_read(f) for _ in range(n)]
    raise RedisError("bad reply %r" % line)


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------

def _runuser_pg(args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + args, **kw)


class PgServer:
    """The run's PostgreSQL 15 cluster, a stand of tools/up.sh (tests/run.sh's,
    MS_E2E_PGDATA/MS_E2E_PGPORT, or the harness's own when run on its own):
    the tests stop, restart and SIGSTOP it by its data directory and PID."""

    def __init__(self, datadir, port):
        self.owned = False
        self.datadir = datadir
        self.port = int(port)
        self.logfile = os.path.join(os.path.dirname(self.datadir), "postgres.log")
        self._stopper = None

    def url(self, db="postgres"):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                pid = int(f.readline().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def pids(self):
        pm = self.postmaster_pid()
        return [pm] + descendants(pm) if pm else []

    def running(self):
        return self.postmaster_pid() is not None

    def start(self):
        if self.running():
            return
        r = _runuser_pg([PG_BIN + "/pg_ctl", "-D", self.datadir, "-l", self.logfile, "-w",
                         "-t", "60", "start"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start failed: %s%s\n%s" % (r.stdout, r.stderr,
                                                                  self._log_tail()))
        wait_until(self.ready, 30, 0.05, "PostgreSQL to accept connections")

    def ready(self):
        r = subprocess.run([PG_BIN + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port),
                            "-t", "1"], capture_output=True)
        return r.returncode == 0

    def stop(self, mode="fast"):
        self.sigcont()
        pm = self.postmaster_pid()
        if not pm:
            return
        r = _runuser_pg([PG_BIN + "/pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "30",
                         "stop"], capture_output=True, text=True)
        if r.returncode != 0 or pid_alive(pm):
            kill_and_wait([pm] + descendants(pm), signal.SIGQUIT, 10)

    def restart(self):
        self.stop("fast")
        self.start()

    def sigstop(self):
        """SIGSTOP the postmaster first (no new children), then every descendant."""
        pm = self.postmaster_pid()
        if not pm:
            raise RuntimeError("PostgreSQL is not running")
        os.kill(pm, signal.SIGSTOP)
        self._stopped = [pm] + descendants(pm)
        signal_pids(self._stopped, signal.SIGSTOP)
        wait_until(lambda: all(proc_state(p) in (None, "T", "t", "Z") for p in self._stopped),
                   5, 0.01, "PostgreSQL processes to stop")
        return self._stopped

    def sigcont(self):
        pids = list(getattr(self, "_stopped", []) or [])
        pm = self.postmaster_pid()
        if pm:
            pids += [pm] + descendants(pm)
        signal_pids(set(pids), signal.SIGCONT)
        self._stopped = []

    def shutdown(self):
        """At teardown: leave it running and resumed (its stand stops it)."""
        self.sigcont()
        if not self.running():  # a test left the shared cluster down: bring it back
            try:
                self.start()
            except Exception:  # noqa: BLE001
                pass

    def _log_tail(self, n=30):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return ""

    def psql(self, sql, db="postgres", check=True, timeout=30):
        env = base_env()
        env["PGTZ"] = "UTC"
        env["PGCONNECT_TIMEOUT"] = "5"
        r = subprocess.run([PG_BIN + "/psql", "-X", "-q", "-A", "-t", "-F", "|",
                            "-v", "ON_ERROR_STOP=1", "-d", self.url(db), "-c", sql],
                           capture_output=True, text=True, env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("psql failed (%d): %s\nSQL: %s" % (r.returncode, r.stderr, sql))
        return r.stdout.strip()

    def psql_file(self, path, db):
        env = base_env()
        env["PGTZ"] = "UTC"
        r = subprocess.run([PG_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", self.url(db), "-f", path],
                           capture_output=True, text=True, env=env, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql -f %s failed: %s" % (path, r.stderr))
        return r.stdout

    def createdb(self, name):
        self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        self.psql('CREATE DATABASE "%s"' % name)

    def dropdb(self, name):
        self.psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, check=False)


# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------

# --------------------------------------------------------------------------
# the user pool, the user worker, nginx
# --------------------------------------------------------------------------

def _tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except FileNotFoundError:
        return ""


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

class Response(tuple):
    """(status, headers, body) with attribute access; headers keys lower-case."""

    def __new__(cls, status, headers, body, raw, elapsed):
        r = tuple.__new__(cls, (status, headers, body))
        r.raw, r.elapsed = raw, elapsed
        return r

    status = property(lambda self: self[0])
    headers = property(lambda self: self[1])
    body = property(lambda self: self[2])

    def __repr__(self):
        b = self.raw[:600].decode("utf-8", "replace") if isinstance(self.raw, bytes) else self.raw
        return "<HTTP %s %s>" % (self.status, b)


def http_request(port, method, path, body=None, headers=None, token=None, raw_body=None,
                 timeout=15.0, chunks=None, tls=False):
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif raw_body is not None:
        data = raw_body if isinstance(raw_body, bytes) else raw_body.encode()
        hdrs["Content-Type"] = "application/json"
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    for k, v in (headers or {}).items():
        for existing in [h for h in hdrs if h.lower() == k.lower()]:
            del hdrs[existing]
        if v is not None:
            hdrs[k] = v
    if tls:
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # our own throwaway self-signed certificate
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.monotonic()
    try:
        try:
            if chunks is not None:
                conn.request(method, path, body=iter(chunks), headers=hdrs, encode_chunked=True)
            else:
                conn.request(method, path, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (413) and closed: read its answer
        resp = conn.getresponse()
        raw = resp.read()
        elapsed = time.monotonic() - t0
        headers_out = {k.lower(): v for k, v in resp.getheaders()}
        status = resp.status
    finally:
        conn.close()
    ctype = headers_out.get("content-type", "")
    parsed = raw.decode("utf-8", "replace")
    if "json" in ctype or parsed[:1] in ("{", "["):
        try:
            parsed = json.loads(raw)
        except ValueError:
            pass
    return Response(status, headers_out, parsed, raw, elapsed)


# --------------------------------------------------------------------------
# the cluster
# --------------------------------------------------------------------------

_seq = [0]


def uniq(tag="u"):
    _seq[0] += 1
    return "%s%d%s" % (tag, _seq[0], uuid.uuid4().hex[:8])


def uniq_email(tag="user"):
    return "%s@example.com" % uniq(re.sub(r"[^a-z0-9]", "", tag.lower()) or "u")


class User:
    def __init__(self, cluster, email, password, data):
        self.cluster = cluster
        self.email = email
        self.password = password
        self.user = data["user"]
        self.id = data["user"]["id"]
        self.tokens = data["tokens"]
        self.token = data["tokens"]["accessToken"]
        self.refresh = data["tokens"]["refreshToken"]

    def req(self, method, path, **kw):
        kw.setdefault("token", self.token)
        return self.cluster.request(method, path, **kw)


# --------------------------------------------------------------------------
# a stand of tools/up.sh: the one orchestrator, also behind make up
# --------------------------------------------------------------------------

def _read_pid(path):
    try:
        with open(path) as f:
            pid = int(f.readline().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.01)
    return not pid_alive(pid)


class Stand:
    """tools/up.sh and tools/down.sh with VAR_DIR=var and env: what a test
    cluster runs is started the way make up starts it (and stopped by PID, as
    make down does). Test actions on single components (a SIGTERM, a kill -9,
    a restart) use the PIDs the stand wrote under var/run."""

    def __init__(self, var, env, log):
        self.var, self.env, self.log = var, env, log
        self.run_dir = os.path.join(var, "run")
        self.log_dir = os.path.join(var, "log")

    def _script(self, name, only=None, timeout=120):
        env = dict(self.env)
        if only:
            env["UP_ONLY"] = only
        r = subprocess.run([os.path.join(ROOT, "tools", name)], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=timeout)
        with open(self.log, "a") as f:
            f.write("$ %s%s -> %d\n%s%s" % (name, " (UP_ONLY=%s)" % only if only else "",
                                             r.returncode, r.stdout, r.stderr))
        return r

    def up(self, only=None):
        r = self._script("up.sh", only)
        if r.returncode != 0:
            raise RuntimeError("tools/up.sh failed (%d):\n%s%s" % (r.returncode, r.stdout[-3000:],
                                                                   r.stderr[-3000:]))

    def down(self):
        return self._script("down.sh")

    def pid(self, name):
        return _read_pid(os.path.join(self.run_dir, name + ".pid"))

    def logfile(self, name):
        return os.path.join(self.log_dir, name + ".log")


class StandPool:
    """A service's pool in a stand: spawn-fcgi execs the master, whose PID the
    stand keeps in var/run/<svc>-fcgi.pid."""

    def __init__(self, stand, service, workers):
        self.stand, self.service, self.workers = stand, service, workers
        self.name = service + "-fcgi"
        self.binary = self.name
        self.sock = os.path.join(stand.run_dir, service + ".sock")
        self.logfile = stand.logfile(self.name)
        self._seen = set()
        self._last_master = None

    @property
    def master_pid(self):
        pid = self.stand.pid(self.name)
        if pid:
            self._last_master = pid
        return pid

    def worker_pids(self):
        pid = self.master_pid
        pids = sorted(children(pid)) if pid else []
        self._seen.update(pids)
        return pids

    def wait_workers(self, timeout=20):
        try:
            wait_until(lambda: len(self.worker_pids()) >= self.workers, timeout, 0.02,
                       "%d %s workers" % (self.workers, self.service))
        except TimeoutError as e:
            raise RuntimeError("%s\n%s" % (e, self.log_tail())) from None

    def start(self, timeout=20):
        self.stand.up(self.name)
        self.wait_workers(timeout)

    def exited_cleanly(self):
        """The master's last words: SIGTERM ends with "pool stopped" (exit 0),
        an info line; above LOG_LEVEL=info only a forced stop shows."""
        tail = self.log_tail(5)
        if self.stand.env.get("LOG_LEVEL", "info") in ("debug", "info"):
            return '"msg":"pool stopped"' in tail
        return "did not stop in time" not in tail

    def wait_exit(self, timeout=15):
        """Wait for the master (already signalled) to exit; 0 if it stopped
        cleanly, else None."""
        pid = self._last_master
        if pid and not _wait_gone(pid, timeout):
            return None
        return 0 if self.exited_cleanly() else None

    def _strays(self):
        out = []
        for p in self._seen:
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if self.binary.encode() in cmd and pid_alive(p):
                out.append(p)
        return out

    def log_tail(self, n=40):
        return _tail(self.logfile, n)

    def stop(self, timeout=15):
        """SIGTERM the master (graceful), wait; 0 if it stopped cleanly."""
        pid = self.master_pid
        if not pid:
            return None
        self.worker_pids()
        kill_and_wait([pid], signal.SIGTERM, timeout)
        rc = 0 if self.exited_cleanly() else None
        kill_and_wait(self._strays(), signal.SIGKILL, 5)
        return rc


class StandWorker:
    """A service's worker in a stand (var/run/<svc>-worker.pid)."""

    def __init__(self, stand, service):
        self.stand, self.service = stand, service
        self.name = service + "-worker"
        self.logfile = stand.logfile(self.name)
        self._last = None

    @property
    def pid(self):
        pid = self.stand.pid(self.name)
        if pid:
            self._last = pid
        return pid

    def start(self):
        self.stand.up(self.name)
        time.sleep(0.05)
        if not self.pid:
            raise RuntimeError("%s exited at once:\n%s" % (self.name, _tail(self.logfile)))

    def wait_exit(self, timeout=10):
        return self._last is None or _wait_gone(self._last, timeout)

    def stop(self, timeout=10):
        pid = self.pid
        if not pid:
            return None
        os.kill(pid, signal.SIGCONT)
        kill_and_wait([pid], signal.SIGTERM, timeout)
        return 0


class StandRedis:
    """The stand's Redis (var/run/redis.pid, var/redis), no persistence unless
    appendonly."""

    def __init__(self, stand, port, appendonly=False):
        self.stand, self.port, self.appendonly = stand, port, appendonly
        self.dir = os.path.join(stand.var, "redis")
        self.logfile = stand.logfile("redis")

    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    @property
    def pid(self):
        return self.stand.pid("redis")

    def start(self):
        if self.pid:
            return
        self.stand.up("redis")
        wait_until(lambda: self.cmd("PING") == "PONG", 10, 0.02, "Redis to answer PING")

    def stop(self, keep_data=False):
        """Stop Redis. keep_data=True: SAVE first, so the restart loads the data
        (streams, revocations, user state) back; else the restart is empty."""
        pid = self.pid
        if not pid:
            return
        self.sigcont()
        if keep_data and not self.appendonly:
            self.cmd("SAVE")
        kill_and_wait([pid], signal.SIGTERM, 10)
        if not keep_data:
            for fn in ("dump.rdb", "appendonly.aof"):
                p = os.path.join(self.dir, fn)
                if os.path.exists(p):
                    os.unlink(p)
            shutil.rmtree(os.path.join(self.dir, "appendonlydir"), ignore_errors=True)

    def sigstop(self):
        os.kill(self.pid, signal.SIGSTOP)

    def sigcont(self):
        if self.pid:
            os.kill(self.pid, signal.SIGCONT)

    def shutdown(self):
        self.stop(keep_data=False)

    def cmd(self, *args):
        return redis_command(self.port, *args)

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "--raw"] +
                           [str(a) for a in args], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError("redis-cli failed: %s" % r.stderr)
        return r.stdout


class StandNginx:
    def __init__(self, stand, port):
        self.stand, self.port = stand, port
        self.https_port = None

    @property
    def pid(self):
        return self.stand.pid("nginx")

    def stop(self, timeout=10):
        pid = self.pid
        if pid:
            kids = descendants(pid)
            kill_and_wait([pid], signal.SIGTERM, timeout)
            kill_and_wait(kids, signal.SIGKILL, 5)


class Cluster:
    """PostgreSQL (own or shared) + one database per service, migrated + Redis
    (shared by every service) + each service's pool and worker + nginx.

    services: the services to run, user first (default just user). For each:
      database     <dbname> for user, <dbname>_<service> for the others
                   (cluster.dbnames[service]); DATABASE_URL per service
      migrations   microshopctl migrate <service> when migrations/<service>/
                   holds *.sql (migrate=True)
      pool         <bindir>/<service>-fcgi       cluster.pools[service]
      worker       <bindir>/<service>-worker, if that binary exists (user:
                   always) and worker=True       cluster.service_workers[service]
      nginx        UPSTREAM_<SERVICE> on that pool's socket
    cluster.pool / cluster.worker stay the user ones; cluster.workers stays the
    number of pool workers (WORKERS) of every pool.

    Parts can be shared with another cluster (pg=, redis=, dbname= with
    migrate=False: every service's database, as named above) to run a second
    set of pools with other settings. env= overrides every service's
    environment; env_by_service={service: {...}} one service's."""

    def __init__(self, bindir, workdir=None, name="main", pg=None, redis=None, dbname=None,
                 env=None, workers=2, worker=True, nginx=True, migrate=True, load_sql=None,
                 redis_appendonly=False, rate_limit="off", nginx_env=None, services=("user",),
                 env_by_service=None, https=False):
        self.bindir = os.path.abspath(bindir)
        self.name = name
        self.services = tuple(services)
        if "user" not in self.services:
            raise ValueError("services must include user (it renders the 404s and "
                             "issues the tokens): %r" % (services,))
        if len(set(self.services)) != len(self.services):
            raise ValueError("services named twice: %r" % (services,))
        for svc in self.services:
            if not re.match(r"^[a-z][a-z0-9]*$", svc):
                raise ValueError("bad service name %r" % svc)
        self.services = ("user",) + tuple(s for s in self.services if s != "user")
        self.workdir = workdir or _workdir()
        self.rundir = os.path.join(self.workdir, name)
        self.logdir = os.path.join(self.workdir, "logs")
        os.makedirs(self.rundir, exist_ok=True)
        os.makedirs(self.logdir, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.pg = pg
        self.own_pg = pg is None
        self.redis = redis
        self.own_redis = redis is None
        # every service's database is <prefix><service> (tools/up.sh's DB_PREFIX);
        # dbname= names another cluster's user database to share them all
        if dbname:
            if not dbname.endswith("user"):
                raise ValueError("dbname must be a cluster's user database: %r" % dbname)
            self.db_prefix = dbname[:-len("user")]
        else:
            self.db_prefix = "e2e_%s_%d_%s_" % (re.sub(r"[^a-z0-9]", "", name), os.getpid(),
                                                uuid.uuid4().hex[:6])
        self.dbname = self.db_prefix + "user"
        self.own_db = dbname is None
        self.dbnames = {svc: self.db_prefix + svc for svc in self.services}
        self.env_overrides = env or {}
        self.env_by_service = env_by_service or {}
        self.workers = workers
        self.want_worker = worker
        self.want_nginx = nginx
        self.migrate = migrate
        self.load_sql = load_sql
        self.redis_appendonly = redis_appendonly
        self.rate_limit = rate_limit
        self.nginx_env = nginx_env
        self.pools = {}
        self.service_workers = {}
        self.nginx = None
        self.stand = None
        self.https = https
        self.started = False

    @property
    def pool(self):
        """The user pool."""
        return self.pools.get("user")

    @property
    def worker(self):
        """The user worker (None with worker=False)."""
        return self.service_workers.get("user")

    # ---- life cycle -------------------------------------------------------
    def start(self):
        """Start the cluster as make up would (tools/up.sh, VAR_DIR under its
        run directory, its own ports; PostgreSQL and a shared Redis as
        servers of someone else's)."""
        _register_stopper(self.stop)
        if self.pg is None:
            if os.environ.get("MS_E2E_PGDATA"):
                # tests/run.sh's, a stand of tools/up.sh
                self.pg = PgServer(datadir=os.environ["MS_E2E_PGDATA"],
                                   port=os.environ["MS_E2E_PGPORT"])
            else:
                # run on its own (tests/e2e/run.py): the same kind of stand
                data = Stand(os.path.join(self.workdir, "data-stand"), dict(
                    base_env(), VAR_DIR=os.path.join(self.workdir, "data-stand"),
                    UP_ONLY_DATA="1", PG_PORT=str(free_port()), REDIS_PORT=str(free_port()),
                    PG_MAX_CONNECTIONS="200", REDIS_APPENDONLY="no",
                    PG_SETTINGS="fsync=off synchronous_commit=off full_page_writes=off"),
                    os.path.join(self.logdir, "data-stand.log"))
                data.up()
                _register_stopper(data.down)
                self.pg = PgServer(datadir=os.path.join(data.var, "pg", "data"),
                                   port=data.env["PG_PORT"])
            _register_stopper(self.pg.shutdown)  # leaves it running, never stopped/stuck
            self.pg.start()
        if not self.want_nginx:
            raise ValueError("a cluster always has its nginx (tools/up.sh starts one)")
        if self.own_db and self.load_sql:
            # the fixture goes in before the migrations, as a database taken over would
            self.pg.createdb(self.dbnames["user"])
            self.pg.psql_file(self.load_sql, self.dbname)
        self.var = os.path.join(self.rundir, "var")
        port = free_port()
        env = self.common_env()
        env.update({"VAR_DIR": self.var, "BIN_DIR": self.bindir,
                    "PG_URL": "postgresql://postgres@127.0.0.1:%d" % self.pg.port,
                    "DB_PREFIX": self.db_prefix, "SERVICES_ONLY": " ".join(self.services),
                    "HTTP_PORT": str(port), "SEED_PRODUCTS": "0",
                    "HTTPS_PORT": str(free_port()) if self.https else "",
                    "ACCESS_LOG": "off", "RATE_LIMIT": self.rate_limit or "off",
                    "UP_NO_WORKERS": "0" if self.want_worker else "1",
                    "UP_NO_MIGRATE": "0" if self.migrate else "1",
                    "REDIS_APPENDONLY": "yes" if self.redis_appendonly else "no"})
        if self.redis is not None:
            env["REDIS_URL"] = self.redis.url()
        else:
            env["REDIS_PORT"] = str(free_port())
        env.update(self.nginx_env or {})
        self.stand = Stand(self.var, env, os.path.join(self.logdir, "%s-stand.log" % self.name))
        self.stand.up()
        if self.redis is None:
            self.redis = StandRedis(self.stand, int(env["REDIS_PORT"]), self.redis_appendonly)
        for svc in self.services:
            pool = StandPool(self.stand, svc, self.workers)
            pool.wait_workers()
            self.pools[svc] = pool
            if self.want_worker and os.access(os.path.join(self.bindir, svc + "-worker"),
                                              os.X_OK):
                self.service_workers[svc] = StandWorker(self.stand, svc)
        self.nginx = StandNginx(self.stand, port)
        if self.https:
            self.nginx.https_port = int(env["HTTPS_PORT"])
        self.started = True
        return self

    @staticmethod
    def has_migrations(service):
        d = os.path.join(ROOT, "migrations", service)
        return os.path.isdir(d) and any(f.endswith(".sql") for f in os.listdir(d))

    def database_url(self, service="user"):
        return self.pg.url(self.dbnames[service])

    def common_env(self):
        """What every service of the cluster gets besides its DATABASE_URL and
        REDIS_URL (tools/up.sh passes its environment through)."""
        env = base_env()
        env.update({
            "BCRYPT_COST": "4",
            "WORKERS": str(self.workers),
            "LOG_LEVEL": "info",
            "JWT_SECRET": NODE_SECRET,
            "JWT_REFRESH_SECRET": NODE_REFRESH_SECRET,
            "DB_CONNECT_TIMEOUT_MS": "1000",
            "REDIS_TIMEOUT_MS": "1000",
            "DB_STATEMENT_TIMEOUT_MS": "2000",
            "RELAY_INTERVAL_MS": "50",
            "MAX_REQUESTS": "100000",
        })
        env.update(self.env_overrides)
        return env

    def service_env(self, service="user", **more):
        """Environment of a service's pool, worker and microshopctl: its own
        DATABASE_URL, the shared REDIS_URL and JWT secret."""
        if service not in self.dbnames:
            raise ValueError("%s is not a service of cluster %s" % (service, self.name))
        env = self.common_env()
        env.update({"DATABASE_URL": self.database_url(service),
                    "REDIS_URL": self.redis.url() if self.redis else ""})
        env.update(self.env_by_service.get(service, {}))
        env.update(more)
        return env

    def stop(self):
        """Stop what this cluster started: tools/down.sh, by PID, newest first."""
        if getattr(self, "stand", None) is not None:
            if self.pg is not None:
                self.pg.sigcont()
            if self.redis is not None and not self.own_redis:
                pass  # someone else's
            elif self.redis is not None:
                self.redis.sigcont()
            for svc, pool in self.pools.items():
                pool.worker_pids()  # remember them, for the strays below
            r = self.stand.down()
            if r.returncode != 0:
                print("harness: warning: %s: tools/down.sh failed (%d): %s%s" % (
                    self.name, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
            for svc, pool in self.pools.items():
                if not pool.exited_cleanly():
                    print("harness: warning: %s %s pool did not log a clean stop" % (
                        self.name, svc))
                kill_and_wait(pool._strays(), signal.SIGKILL, 5)
            self.stand = None
        if self.own_db and self.pg is not None and self.pg.running():
            for svc in reversed(self.services):
                self.pg.dropdb(self.dbnames[svc])
        _unregister_stopper(self.stop)
        self.started = False

    # ---- HTTP ---------------------------------------------------------------
    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.nginx.port, path)

    def request(self, method, path, body=None, headers=None, token=None, raw_body=None,
                timeout=15.0, chunks=None):
        return http_request(self.nginx.port, method, path, body=body, headers=headers,
                            token=token, raw_body=raw_body, timeout=timeout, chunks=chunks)

    # ---- dependencies ---------------------------------------------------------
    def restart_postgres(self):
        self.pg.restart()

    def stop_postgres(self):
        self.pg.stop("fast")

    def start_postgres(self):
        self.pg.start()

    def sigstop_postgres(self):
        return self.pg.sigstop()

    def sigcont_postgres(self):
        self.pg.sigcont()

    def stop_redis(self, keep_data=True):
        self.redis.stop(keep_data=keep_data)

    def start_redis(self):
        self.redis.start()

    def pool_worker_pids(self, service="user"):
        return self.pools[service].worker_pids()

    def kill_worker(self, pid, sig=signal.SIGKILL, service="user"):
        if pid not in self.pools[service].worker_pids():
            raise ValueError("%d is not a worker of the %s pool" % (pid, service))
        os.kill(pid, sig)

    def psql(self, sql, check=True, service="user"):
        """Run sql in a service's database (the user one by default)."""
        return self.pg.psql(sql, self.dbnames[service], check=check)

    def redis_cli(self, *args):
        return self.redis.cli(*args)

    def redis_cmd(self, *args):
        return self.redis.cmd(*args)

    def microshopctl(self, *args, env=None, timeout=30, service="user"):
        """bin/microshopctl with a service's environment (its DATABASE_URL)."""
        e = self.service_env(service)
        if env:
            e.update(env)
        r = subprocess.run([os.path.join(self.bindir, "microshopctl")] + list(args), env=e,
                           cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(self.logdir, "microshopctl.log"), "a") as f:
            f.write("$ microshopctl %s -> %d\n%s%s" % (" ".join(args), r.returncode,
                                                       r.stdout, r.stderr))
        return r

    # ---- test conveniences ------------------------------------------------------
    def register(self, email=None, password=PASSWORD, name="Test User", phone=None,
                 expect=201):
        email = email or uniq_email()
        body = {"email": email, "password": password, "name": name}
        if phone:
            body["phone"] = phone
        r = self.request("POST", "/api/auth/register", body=body)
        if r.status != expect:
            raise AssertionError("register %s: expected %d, got %r" % (email, expect, r))
        return User(self, r.body["data"]["user"]["email"], password, r.body["data"]) \
            if r.status == 201 else r

    def login(self, email, password=PASSWORD):
        return self.request("POST", "/api/auth/login", body={"email": email, "password": password})

    def login_user(self, user):
        r = self.login(user.email, user.password)
        if r.status != 200:
            raise AssertionError("login %s: %r" % (user.email, r))
        return User(self, user.email, user.password, r.body["data"])

    def set_role(self, email, role, *extra):
        r = self.microshopctl("set-role", email, role, *extra)
        if r.returncode != 0:
            raise AssertionError("microshopctl set-role %s %s failed (%d): %s%s" % (
                email, role, r.returncode, r.stdout, r.stderr))
        return r

    def make_user(self, role="user", tag="user", **kw):
        u = self.register(email=uniq_email(tag), **kw)
        if role != "user":
            self.set_role(u.email, role)
            u.user["role"] = role
        return u

    def make_admin(self, tag="admin", **kw):
        """A new admin: register, microshopctl set-role … admin (user
        database), then log in again, so that the token's own role claim is
        admin too (permission checks read the current role from Redis anyway)."""
        return self.login_user(self.make_user(role="admin", tag=tag, **kw))

    def heal(self, tries=40, services=None):
        """After a dependency outage: let every worker find out that its old
        connections are gone (GET /health/<service> touches PostgreSQL and
        Redis), so that the next test starts clean. Every service of the
        cluster by default. Returns the number of failures."""
        failures = 0
        for svc in (services or self.services):
            need, ok = 2 * self.workers + 2, 0
            for _ in range(tries):
                if self.request("GET", "/health/%s" % svc).status == 200:
                    ok += 1
                    if ok >= need:
                        break
                else:
                    ok, failures = 0, failures + 1
        return failures

    def snapshot(self):
        return (self.pool.master_pid, tuple(self.pool.worker_pids()))

    def stream_entries(self, stream="events:user"):
        """XRANGE stream as a list of (entry_id, {field: value}) with data parsed."""
        out = []
        for entry_id, flat in self.redis_cmd("XRANGE", stream, "-", "+") or []:
            fields = dict(zip(flat[0::2], flat[1::2]))
            if "data" in fields:
                try:
                    fields["data"] = json.loads(fields["data"])
                except (TypeError, ValueError):
                    pass
            out.append((entry_id, fields))
        return out

    def events_for(self, user_id, etype=None):
        return [f for _, f in self.stream_entries()
                if isinstance(f.get("data"), dict) and f["data"].get("user_id") == user_id
                and (etype is None or f.get("type") == etype)]


# --------------------------------------------------------------------------
# the run's shared cluster
# --------------------------------------------------------------------------

_state = {"workdir": None, "bindir": None, "cluster": None, "own_workdir": False}


def _workdir():
    if _state["workdir"] is None:
        wd = os.environ.get("MS_E2E_WORKDIR")
        if wd:
            os.makedirs(wd, exist_ok=True)
        else:
            wd = tempfile.mkdtemp(prefix="microshop-e2e-")
            _state["own_workdir"] = True
        os.chmod(wd, 0o755)
        os.makedirs(os.path.join(wd, "logs"), exist_ok=True)
        _state["workdir"] = wd
    return _state["workdir"]


def bindir():
    return _state["bindir"] or os.environ.get("MS_E2E_BINDIR") or os.path.join(ROOT, "bin")


def setup(bin_dir):
    _state["bindir"] = os.path.abspath(bin_dir)
    _workdir()


def cluster():
    """The shared cluster of this run, started on first use."""
    if _state["cluster"] is None:
        c = Cluster(bindir(), name="main")
        _state["cluster"] = c
        c.start()
    return _state["cluster"]


def new_cluster(**kw):
    """An extra cluster (stopped by the caller or at teardown)."""
    main = cluster()
    kw.setdefault("pg", main.pg)
    return Cluster(bindir(), **kw).start()


def teardown():
    """Stop everything still running, newest first."""
    while True:
        with _procs_lock:
            if not _stoppers:
                break
            fn = _stoppers.pop()
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            print("harness: teardown: %r" % e, file=sys.stderr)
    _state["cluster"] = None


atexit.register(teardown)  # also when a test module is run on its own (python3 -m unittest)


def sanitizer_findings():
    """Lines of sanitizer reports in every log of this run."""
    bad, leaks = [], []
    wd = _state["workdir"]
    if not wd:
        return bad, leaks
    for dirpath, _, files in os.walk(wd):
        for fn in files:
            if not (fn.endswith(".log") or fn.endswith(".stderr")):
                continue
            path = os.path.join(dirpath, fn)
            try:
                with open(path, errors="replace") as f:
                    for line in f:
                        if any(p in line for p in SAN_PATTERNS):
                            bad.append("%s: %s" % (os.path.relpath(path, wd), line.rstrip()))
                        elif LEAK_PATTERN in line:
                            leaks.append("%s: %s" % (os.path.relpath(path, wd), line.rstrip()))
            except OSError:
                pass
    return bad, leaks


def workdir():
    return _workdir()


def remove_workdir():
    if _state["own_workdir"] and _state["workdir"]:
        shutil.rmtree(_state["workdir"], ignore_errors=True)


# --------------------------------------------------------------------------
# assertions shared by the test modules
# --------------------------------------------------------------------------

class E2ECase(unittest.TestCase):
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.c = cluster()

    # envelope ------------------------------------------------------------
    def assertOk(self, r, status=200, message=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, r)
        self.assertIs(r.body.get("success"), True, r)
        if message is not None:
            self.assertEqual(r.body.get("message"), message, r)
        return r.body.get("data")

    def assertError(self, r, status, message=None, messages=None):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.body, dict, "error body is not JSON: %r" % (r,))
        self.assertIs(r.body.get("success"), False, r)
        err = r.body.get("error")
        self.assertIsInstance(err, dict, r)
        self.assertEqual(err.get("code"), status, r)
        self.assertIsInstance(err.get("message"), str, r)
        if message is not None:
            self.assertEqual(err.get("message"), message, r)
        if messages is not None:
            self.assertIn(err.get("message"), messages, r)
        for leak in ("SELECT ", "INSERT ", "ERROR:", "syntax error", "Traceback", "pq_", "PQ",
                     "hiredis", "violates", "relation \""):
            self.assertNotIn(leak, json.dumps(err), "internal detail leaked: %r" % (r,))
        return err

    def assertValidation(self, r, fields=None, secrets=()):
        err = self.assertError(r, 422, "Validation failed")
        errors = err.get("errors")
        self.assertIsInstance(errors, list, r)
        self.assertTrue(errors, r)
        for e in errors:
            self.assertIsInstance(e.get("field"), str, r)
            self.assertIsInstance(e.get("message"), str, r)
            if e.get("field", "").lower().endswith("password"):
                self.assertNotIn("value", e, "a password was echoed back: %r" % (r,))
        for s in secrets:
            self.assertNotIn(s, r.raw.decode("utf-8", "replace"), "secret echoed: %r" % (r,))
        if fields is not None:
            got = {e["field"] for e in errors}
            for f in fields:
                self.assertIn(f, got, r)
        return errors

    # shapes ----------------------------------------------------------------
    def assertUser(self, u, with_profile=None):
        self.assertIsInstance(u, dict)
        for f in USER_FIELDS:
            self.assertIn(f, u, "user object lacks %s: %r" % (f, u))
        for f in FORBIDDEN_USER_FIELDS:
            self.assertNotIn(f, u, "user object carries %s: %r" % (f, u))
        self.assertRegex(u["id"], UUID_RE)
        self.assertIn(u["role"], ("user", "moderator", "admin"))
        self.assertIsInstance(u["email_verified"], bool)
        for f in ("created_at", "updated_at"):
            self.assertRegex(u[f], TS_RE, "%s not ISO-8601 UTC with ms: %r" % (f, u))
        for f in ("email_verified_at", "last_login_at"):
            if u[f] is not None:
                self.assertRegex(u[f], TS_RE, "%s: %r" % (f, u))
        if with_profile:
            self.assertIn("profile", u, u)
            self.assertProfile(u["profile"], u["id"])
        elif with_profile is False:
            self.assertNotIn("password_hash", json.dumps(u))

    def assertProfile(self, p, user_id=None):
        self.assertIsInstance(p, dict)
        for f in PROFILE_FIELDS:
            self.assertIn(f, p, "profile lacks %s: %r" % (f, p))
        if user_id:
            self.assertEqual(p["user_id"], user_id)
        if p.get("date_of_birth") is not None:
            self.assertRegex(p["date_of_birth"], r"^\d{4}-\d\d-\d\d$")

    def assertTokens(self, t):
        self.assertIsInstance(t, dict)
        self.assertEqual(set(t), {"accessToken", "refreshToken", "tokenType", "expiresIn"}, t)
        self.assertEqual(t["tokenType"], "Bearer")
        self.assertEqual(t["expiresIn"], 900)
        a = jwt_claims(t["accessToken"])
        self.assertEqual(a.get("type"), "access", a)
        self.assertEqual(a.get("iss"), "user-service", a)
        self.assertEqual(a.get("id"), a.get("sub"), a)
        self.assertEqual(a["exp"] - a["iat"], 900, a)
        self.assertEqual(jwt_claims(t["refreshToken"]).get("type"), "refresh")

    # the pool survived -----------------------------------------------------
    def assertPoolIntact(self, before):
        r = self.c.request("GET", "/health/user")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.c.snapshot(), before,
                         "pool master/worker PIDs changed (a worker died):\n%s" %
                         self.c.pool.log_tail(30))
