#!/usr/bin/env python3
"""Open every rendered diagram in headless Chromium and check it from the DOM.

For every examples/*.fz and, when ../shared/corpus exists, every corpus diagram: render the
workflow and the sequence view with `fz render`, put both SVGs in one XHTML page (parsed by
the browser's XML parser, so a malformed SVG shows up as a <parsererror>), load it in
Debian's `chromium --headless --dump-dom`, and read from the DOM, with getBBox():

* the boxes of the nodes (`g.node`) and of the participant heads (`rect.head`), which must not
  intersect each other;
* the boxes of edge and loop labels (`g.edge-label`, `g.loop-label`), which must not cover a
  node;
* the number of nodes and edges drawn, which must match `fz export --format json`.

Usage: check.py FZ_BINARY [OUT_DIR]. Prints one line a diagram and a closing
'N passed, N failed' line; exits 1 when anything failed.
"""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 0.5

SCRIPT = r"""
//<![CDATA[
(function () {
  function box(el) {
    var b = el.getBBox();
    return [b.x, b.y, b.width, b.height];
  }
  var out = {};
  var views = document.querySelectorAll('div[data-view]');
  for (var i = 0; i < views.length; i++) {
    var v = views[i];
    var svg = v.querySelector('svg');
    var r = {nodes: [], labels: [], edges: 0, messages: 0, heads: []};
    if (svg) {
      var ns = svg.querySelectorAll('g.node');
      for (var j = 0; j < ns.length; j++) r.nodes.push([ns[j].getAttribute('data-id'), box(ns[j])]);
      var hs = svg.querySelectorAll('rect.head');
      for (var j = 0; j < hs.length; j++) r.heads.push(['head' + j, box(hs[j])]);
      var ls = svg.querySelectorAll('g.edge-label, g.loop-label');
      for (var j = 0; j < ls.length; j++) r.labels.push(box(ls[j]));
      r.edges = svg.querySelectorAll('g.edge').length;
      r.messages = svg.querySelectorAll('g.message').length;
      r.width = svg.width.baseVal.value;
    }
    out[v.getAttribute('data-view')] = r;
  }
  out.parsererror = document.getElementsByTagName('parsererror').length;
  var pre = document.getElementById('fz-result');
  pre.textContent = JSON.stringify(out);
})();
//]]>
"""


def intersects(a, b):
    return (a[0] + TOL < b[0] + b[2] and b[0] + TOL < a[0] + a[2]
            and a[1] + TOL < b[1] + b[3] and b[1] + TOL < a[1] + a[3])


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def dump_dom(browser, page):
    profile = tempfile.mkdtemp(prefix="fz-chromium-")
    try:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               "--user-data-dir=" + profile, "--dump-dom", "file://" + page]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return p.stdout, p.stderr
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    fz = os.path.abspath(sys.argv[1])
    out_dir = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="fz-browser-")
    os.makedirs(out_dir, exist_ok=True)
    browser = chromium_binary()
    if not browser:
        print("chromium is not installed (apt-get install chromium)")
        return 1
    files = sorted(os.path.join(ROOT, "examples", f) for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".fz"))
    corpus = os.path.join(ROOT, "..", "shared", "corpus")
    if os.path.isdir(corpus):
        files += sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".fz"))
    passed = failed = 0
    for f in files:
        name = os.path.splitext(os.path.basename(f))[0]
        problems = []
        check = subprocess.run([fz, "check", f], capture_output=True, text=True)
        if check.returncode != 0:
            print(f"skip {name}: fz check reports errors")
            continue
        model = json.loads(subprocess.run([fz, "export", "--format", "json", f], capture_output=True, text=True, check=True).stdout)
        n_nodes = len(model.get("nodes", []))
        n_edges = len(model.get("edges", []))
        body = []
        for view in ("workflow", "sequence"):
            svg_path = os.path.join(out_dir, f"{name}.{view}.svg")
            r = subprocess.run([fz, "render", f, "--view", view, "-o", svg_path], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"fz render --view {view} failed: {r.stderr.strip()}")
                continue
            with open(svg_path, encoding="utf-8") as fh:
                svg = fh.read()
            body.append(f'<div data-view="{view}">{svg}</div>')
        page = os.path.join(out_dir, f"{name}.xhtml")
        with open(page, "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                     '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>fz</title></head><body>'
                     + "".join(body)
                     + '<pre id="fz-result"></pre><script type="text/javascript">' + SCRIPT + "</script></body></html>\n")
        # Headless Chromium now and then exits before dumping the DOM on a loaded machine
        # (it printed only its cpufreq warning): try the page up to three times.
        for _ in range(3):
            dom, err = dump_dom(browser, page)
            m = re.search(r'<pre id="fz-result">(.*?)</pre>', dom, re.S)
            if m and m.group(1).strip():
                break
        if not m or not m.group(1).strip():
            problems.append("the page did not load or its check did not run: " + (err.strip().splitlines() or ["?"])[-1][:300])
        else:
            res = json.loads(html.unescape(m.group(1)))
            if res.get("parsererror"):
                problems.append("XML parse error in the SVG")
            if "Uncaught" in err:
                problems.append("script error: " + err[:300])
            wf = res.get("workflow", {})
            sq = res.get("sequence", {})
            if len(wf.get("nodes", [])) != n_nodes:
                problems.append(f"workflow shows {len(wf.get('nodes', []))} nodes, the model has {n_nodes}")
            if wf.get("edges") != n_edges:
                problems.append(f"workflow shows {wf.get('edges')} edges, the model has {n_edges}")
            n_lanes = len(model.get("lanes", []))
            if len(sq.get("heads", [])) != max(n_lanes, 1):
                problems.append(f"sequence shows {len(sq.get('heads', []))} lifelines, the model has {n_lanes} lanes")
            if sq.get("messages") != n_edges:
                problems.append(f"sequence shows {sq.get('messages')} messages, the model has {n_edges}")
            for view, r in (("workflow", wf), ("sequence", sq)):
                boxes = r.get("nodes", []) + r.get("heads", [])
                for i in range(len(boxes)):
                    for j in range(i + 1, len(boxes)):
                        if intersects(boxes[i][1], boxes[j][1]):
                            problems.append(f"{view}: {boxes[i][0]} and {boxes[j][0]} intersect: {boxes[i][1]} {boxes[j][1]}")
                for lb in r.get("labels", []):
                    for nid, nb in r.get("nodes", []):
                        if intersects(lb, nb):
                            problems.append(f"{view}: a label {lb} covers node {nid} {nb}")
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for p in problems[:10]:
                print("  " + p)
        else:
            passed += 1
            print(f"ok   {name} ({n_nodes} nodes, {n_edges} edges)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
