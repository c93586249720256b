#!/usr/bin/env python3
"""Drive the generated task-based UI in headless Chromium (Chrome DevTools Protocol).

Starts the generated service (`fz gen examples/cqrs-task-based-ui.fz`, built) with a
JWT_SECRET, mints a token with its `mint-token`, starts Debian's chromium headless with a
DevTools port, and in two tabs:

* tab A (with the token) submits a create command: the optimistic row is there at once
  (same JavaScript turn as the submit, so before any answer), then it is confirmed by the
  WebSocket with the read model's entry (version 1);
* tab B (another tab, no token) sees the new row arrive from the read model, live;
* tab A sends the same command again (same command id): 409, shown as "already submitted",
  and the row is unchanged (applied once);
* tab A completes the task twice: the first is confirmed, the second is rejected by the
  domain rule and its optimistic change is rolled back;
* tab A assigns a task that does not exist: the optimistic row appears, then is removed;
* tab B submits without a token: 401, rolled back;
* no JavaScript exception was thrown in either tab.

Usage: taskui.py SERVICE_BINARY WORK_DIR [BASE_PORT]   (needs pip's websocket-client)
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client

SECRET = "browser-test-secret-" + os.urandom(16).hex()


class Page:
    """One tab, driven over its own DevTools WebSocket."""

    def __init__(self, ws_url, name):
        self.name = name
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.exceptions = []
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Runtime.exceptionThrown":
                d = msg["params"]["exceptionDetails"]
                self.exceptions.append(d.get("exception", {}).get("description") or d.get("text"))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{self.name}: {method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{self.name}: {expr[:80]}...: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, what, timeout=15.0):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.eval(expr)
            if last:
                return last
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: timed out waiting for {what} (last: {last!r})")

    def goto(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && !!document.querySelector('form')", "the page")
        self.wait("document.getElementById('connection').dataset.state === 'open'", "the WebSocket")


def http_json(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def wait_http(url, what, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return http_json(url)
        except Exception:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not answer at {url}")


ROW = "document.querySelector('tr[data-id=\"%s\"]')"


def row(page, task):
    return page.eval(
        "(() => { const r = %s; if (!r) return null; const o = {state: r.dataset.state};"
        " r.querySelectorAll('td[data-field]').forEach(td => o[td.dataset.field] = td.textContent);"
        " o.version = r.querySelector('td.version').textContent; return o; })()" % (ROW % task)
    )


def submit(page, command, fields):
    """Fills the form of `command`, submits it, and returns (command id, the row right after)."""
    sets = "".join(
        "f.elements.namedItem(%s).value = %s;" % (json.dumps(k), json.dumps(v)) for k, v in fields.items()
    )
    return page.eval(
        "(() => { const f = document.querySelector('form[data-command=%s]'); %s"
        " const id = f.elements.namedItem('task_id').value; f.requestSubmit();"
        " const li = document.querySelector('#log li'); const r = %s;"
        " return {command_id: li.dataset.commandId, task: id, status: li.dataset.status,"
        " state: r && r.dataset.state, title: r && r.querySelector('td[data-field=title]').textContent,"
        " status_cell: r && r.querySelector('td[data-field=status]').textContent}; })()"
        % (command, sets, "document.querySelector('tr[data-id=\"' + id + '\"]')")
    )


def log_status(page, command_id):
    return page.eval(
        "(() => { const li = document.querySelector('#log li[data-command-id=\"%s\"]');"
        " return li && [li.dataset.status, li.querySelector('.status').textContent]; })()" % command_id
    )


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    binary, work = sys.argv[1], sys.argv[2]
    base = int(sys.argv[3]) if len(sys.argv) > 3 else 19250
    port, devtools = base + 1, base + 2
    os.makedirs(work, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("chromium is not installed")
        return 1
    env = dict(os.environ, PORT=str(port), DATA_DIR=os.path.join(work, "data"), JWT_SECRET=SECRET)
    env.pop("DATABASE_URL", None)
    token = subprocess.run([binary, "mint-token", "alice"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    log = open(os.path.join(work, "service.log"), "w")
    svc = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT)
    profile = tempfile.mkdtemp(prefix="fz-taskui-chromium-")
    chrome = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--remote-debugging-port={devtools}",
         "--remote-allow-origins=*", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    pages = []
    try:
        wait_http(f"http://127.0.0.1:{port}/health", "the service")
        wait_http(f"http://127.0.0.1:{devtools}/json/version", "chromium's DevTools")
        origin = f"http://127.0.0.1:{port}"

        def tab(name):
            t = http_json(f"http://127.0.0.1:{devtools}/json/new?about:blank", method="PUT")
            p = Page(t["webSocketDebuggerUrl"], name)
            pages.append(p)
            return p

        a, b = tab("tab A"), tab("tab B")
        a.goto(f"{origin}/#token={token}")
        b.goto(f"{origin}/")
        checks = 0

        # Optimistic at once, then confirmed by the WebSocket.
        s = submit(a, "create_task", {"title": "Buy milk"})
        task = s["task"]
        assert s["state"] == "pending" and s["title"] == "Buy milk", f"optimistic row at once: {s}"
        assert s["status"] == "pending", s
        print(f"ok   optimistic: row {task} shown at once as pending ({s['title']!r})")
        checks += 1
        a.wait("(() => { const r = %s; return r && r.dataset.state === 'confirmed'; })()" % (ROW % task), "the confirmation")
        r = row(a, task)
        assert r["version"] == "1" and r["status"] == "open" and r["title"] == "Buy milk", r
        assert log_status(a, s["command_id"])[0] == "confirmed", log_status(a, s["command_id"])
        print(f"ok   confirmed: the read model's entry replaced it (version {r['version']}, status {r['status']})")
        checks += 1
        view = http_json(f"{origin}/views/read_model/{task}")
        assert view["version"] == 1, view

        # The second tab sees the read model change, live.
        b.wait("(() => { const r = %s; return r && r.dataset.state === 'confirmed'; })()" % (ROW % task), "the row in tab B")
        rb = row(b, task)
        assert rb["title"] == "Buy milk" and rb["version"] == "1", rb
        print("ok   second tab: the new row arrived from the read model over its WebSocket")
        checks += 1

        # The same command again: 409, "already submitted", applied once.
        a.eval("document.querySelector('#log li[data-command-id=\"%s\"] button.again').click()" % s["command_id"])
        st = a.wait("(() => { const li = document.querySelector('#log li[data-command-id=\"%s\"]');"
                    " return li.dataset.status === 'duplicate' && li.querySelector('.status').textContent; })()"
                    % s["command_id"], "already submitted")
        assert st == "already submitted", st
        time.sleep(0.3)
        assert row(a, task)["version"] == "1" and http_json(f"{origin}/views/read_model/{task}")["version"] == 1
        print("ok   duplicate: sending the same command id again shows \"already submitted\" (409); applied once")
        checks += 1

        # A rule violation: completing twice; the second is rejected and rolled back.
        c1 = submit(a, "complete_task", {"task_id": task})
        assert c1["state"] == "pending" and c1["status_cell"] == "done", f"optimistic completion: {c1}"
        a.wait("(() => { const r = %s; return r && r.dataset.state === 'confirmed'"
               " && r.querySelector('td[data-field=status]').textContent === 'done'; })()" % (ROW % task), "the completion")
        c2 = submit(a, "complete_task", {"task_id": task})
        assert c2["state"] == "pending", c2
        st = a.wait("(() => { const s = %s; return s && s[0] === 'rejected' && s[1]; })()"
                    % ("(() => { const li = document.querySelector('#log li[data-command-id=\"%s\"]');"
                       " return li && [li.dataset.status, li.querySelector('.status').textContent]; })()" % c2["command_id"]),
                    "the rejection")
        a.wait("(() => { const r = %s; return r && r.dataset.state === 'confirmed'; })()" % (ROW % task), "the rollback")
        r = row(a, task)
        assert r["status"] == "done" and r["version"] == "2", r
        print(f"ok   rejected: a second completion is refused ({st!r}) and rolled back (version {r['version']})")
        checks += 1

        # An optimistic row for a task that does not exist disappears when rejected.
        g = submit(a, "assign_task", {"task_id": "ghost-task", "assignee": "bob"})
        assert g["state"] == "pending", g
        a.wait("!%s" % (ROW % "ghost-task"), "the ghost row's removal")
        assert log_status(a, g["command_id"])[0] == "rejected", log_status(a, g["command_id"])
        print("ok   rolled back: an assignment of a missing task showed at once, then was removed")
        checks += 1

        # Without a token (tab B): 401, rolled back.
        u = submit(b, "create_task", {"title": "No token"})
        assert u["state"] == "pending", u
        st = b.wait("(() => { const s = %s; return s && s[0] === 'error' && s[1]; })()"
                    % ("(() => { const li = document.querySelector('#log li[data-command-id=\"%s\"]');"
                       " return li && [li.dataset.status, li.querySelector('.status').textContent]; })()" % u["command_id"]),
                    "the 401")
        assert st.startswith("unauthorized"), st
        b.wait("!%s" % (ROW % u["task"]), "the unauthorized row's removal")
        print(f"ok   unauthorized: without a token the command is refused ({st!r}) and rolled back")
        checks += 1

        for p in pages:
            assert not p.exceptions, f"{p.name}: JavaScript exceptions: {p.exceptions}"
        print(f"{checks} passed, 0 failed")
        return 0
    except AssertionError as e:
        print(f"FAIL {e}")
        print(open(os.path.join(work, "service.log")).read()[-2000:])
        return 1
    finally:
        for p in pages:
            try:
                p.ws.close()
            except Exception:
                pass
        chrome.terminate()
        svc.terminate()
        for proc in (chrome, svc):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
