"""`make up`'s stand as a user meets it (issue 7): tools/up.sh run for real in
a copy of the checkout (its tools, nginx template, migrations and the binaries
under test; other ports, no TLS), then the README's admin line typed exactly
as written — `bin/microshopctl set-role you@example.com admin`, with no
environment at all — from the checkout and from elsewhere, and set-status the
same way. tools/down.sh stops it all and takes the stand file away."""

import os
import shutil
import subprocess

import harness
from harness import PASSWORD, E2ECase, free_port, uniq_email

_state = {}
BINS = ("user-fcgi", "user-worker", "product-fcgi", "product-worker", "microshopctl")


def run(argv, cwd, env=None, timeout=120):
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def setUpModule():
    root = os.path.join(harness.workdir(), "checkout")
    for d in ("tools", "nginx", "migrations"):
        shutil.copytree(os.path.join(harness.ROOT, d), os.path.join(root, d))
    shutil.copy2(os.path.join(harness.ROOT, "services.list"), root)
    os.makedirs(os.path.join(root, "bin"))
    for b in BINS:
        src = os.path.join(harness.bindir(), b)
        if os.path.exists(src):
            shutil.copy2(src, os.path.join(root, "bin", b))
    os.chmod(root, 0o755)
    env = harness.base_env()
    env.update(PG_PORT=str(free_port()), REDIS_PORT=str(free_port()),
               HTTP_PORT=str(free_port()), HTTPS_PORT="", WORKERS="2", SEED_PRODUCTS="0",
               RATE_LIMIT="off", ACCESS_LOG="off")
    _state.update(root=root, env=env, port=int(env["HTTP_PORT"]))
    harness._register_stopper(tearDownModule)
    r = run([os.path.join(root, "tools", "up.sh")], root, env)
    _state["up"] = r
    if r.returncode != 0:
        raise AssertionError(
            "tools/up.sh failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))


def tearDownModule():
    root = _state.get("root")
    if root and not _state.get("down"):
        _state["down"] = run([os.path.join(root, "tools", "down.sh")], root, _state["env"])


class MakeUpStand(E2ECase):
    def req(self, method, path, **kw):
        return harness.http_request(_state["port"], method, path, **kw)

    def ctl(self, *args, cwd=None):
        """bin/microshopctl as the README types it: no environment at all."""
        root = _state["root"]
        return run(["bin/microshopctl" if cwd is None else os.path.join(root, "bin", "microshopctl")]
                   + list(args), cwd or root, env={})

    def test_readme_admin_line_works_as_written(self):
        self.assertIn("bin/microshopctl set-role <email> admin", _state["up"].stdout)
        email = uniq_email("you")
        r = self.req("POST", "/api/auth/register",
                     body={"email": email, "password": PASSWORD, "name": "You Admin"})
        self.assertOk(r, 201)
        token = r.body["data"]["tokens"]["accessToken"]
        self.assertError(self.req("GET", "/api/users", token=token), 403)
        r = self.ctl("set-role", email, "admin")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("is now admin", r.stdout)
        self.assertOk(self.req("GET", "/api/users", token=token))
        # from another directory too (the binary finds its checkout's stand)
        r = self.ctl("set-status", email, "suspended", "--force", cwd="/")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertError(self.req("GET", "/api/users", token=token), 401)
        r = self.ctl("set-status", email, "active")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertOk(self.req("GET", "/api/users", token=token))
        # the environment wins over the stand
        r = run([os.path.join(_state["root"], "bin", "microshopctl"), "set-role", email, "user"],
                "/", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"})
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertOk(self.req("GET", "/api/users", token=token))

    def test_stand_file_is_private_and_down_removes_it(self):
        stand = os.path.join(_state["root"], "var", "stand.env")
        self.assertEqual(os.stat(stand).st_mode & 0o777, 0o600)
        with open(stand) as f:
            text = f.read()
        self.assertIn("PG_URL=postgresql://postgres@127.0.0.1:%s" % _state["env"]["PG_PORT"], text)
        self.assertIn("REDIS_URL=redis://127.0.0.1:%s/0" % _state["env"]["REDIS_PORT"], text)
        self.assertIn("JWT_SECRET=", text)
        # run last in this class: stop the stand
        tearDownModule()
        r = _state["down"]
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(stand))
        r = self.ctl("set-role", uniq_email("x"), "admin")
        self.assertEqual(r.returncode, 1)
        self.assertIn("DATABASE_URL is not set", r.stderr)
