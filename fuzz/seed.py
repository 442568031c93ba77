#!/usr/bin/env python3
"""Regenerates the fuzz seed corpora from the repository's fixtures (run by scripts/fuzz).

Writes fuzz/seeds/<target>/ (replaced on every run, not committed) and fuzz/dicts/helm3_json.dict.
Standard library only: release payloads are found by their `release:` data key in the YAML/JSON
records, so no YAML parser is needed.

Usage: seed.py REPO_ROOT [SHARED_REFERENCE_DIR]
"""

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import sys

TARGETS = ["helm3_text", "helm3_json", "helm2_text", "helm2_proto", "convert", "manifest", "helm_errors", "names", "gotime"]
B64 = re.compile(rb"^[A-Za-z0-9+/=\r\n]+$")
RELEASE_LINE = re.compile(r'^\s*"?release"?\s*:\s*"?([A-Za-z0-9+/=]+)"?\s*,?\s*$', re.M)


def record_texts(path):
    """The codec input of every record in a fixture file: the base64 text (Secret layer removed)."""
    with open(path, encoding="utf-8") as f:
        content = f.read()
    for m in RELEASE_LINE.finditer(content):
        value = m.group(1).encode()
        try:
            once = base64.b64decode(value, validate=True)
        except Exception:
            continue
        # A Secret stores the bytes of the base64 text, so decoding once gives base64 again.
        yield once if once and B64.match(once) else value


def body_of(text):
    raw = base64.b64decode(text)
    if raw[:3] == b"\x1f\x8b\x08":
        try:
            return gzip.decompress(raw)
        except Exception:
            return None
    return raw


def shrink(v):
    """Small structure-preserving copy of a release JSON: every key kept, strings and lists cut."""
    if isinstance(v, str):
        return v[:32]
    if isinstance(v, list):
        return [shrink(x) for x in v[:4]]
    if isinstance(v, dict):
        return {k: shrink(x) for k, x in v.items()}
    return v


def keys(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            keys(x, out)
    elif isinstance(v, list):
        for x in v:
            keys(x, out)


class Seeds:
    def __init__(self, root):
        self.root = root
        self.count = {t: 0 for t in TARGETS}

    def add(self, target, data, max_len=None):
        if isinstance(data, str):
            data = data.encode()
        if max_len is not None and len(data) > max_len:
            return
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(self.root, target, name), "wb") as f:
            f.write(data)
        self.count[target] += 1


def main():
    repo = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/reference"
    fixtures = os.path.join(repo, "fixtures")
    out = os.path.join(repo, "fuzz", "seeds")
    shutil.rmtree(out, ignore_errors=True)
    for t in TARGETS:
        os.makedirs(os.path.join(out, t))
    s = Seeds(out)
    json_keys = set()

    # Helm 3/4 records.
    h3 = os.path.join(fixtures, "helm3")
    for f in sorted(os.listdir(h3)):
        p = os.path.join(h3, f)
        if f.endswith((".yaml", ".json")):
            for text in record_texts(p):
                s.add("helm3_text", text, max_len=256 * 1024)
                body = body_of(text)
                if body is None:
                    continue
                rel = json.loads(body)
                keys(rel, json_keys)
                s.add("helm3_json", json.dumps(shrink(rel), separators=(",", ":")))
                if len(body) <= 64 * 1024:
                    s.add("helm3_json", body)
                if rel.get("manifest"):
                    s.add("manifest", rel["manifest"], max_len=64 * 1024)
                for hook in rel.get("hooks") or []:
                    if hook.get("manifest"):
                        s.add("manifest", hook["manifest"])
                for tpl in (rel.get("chart") or {}).get("templates") or []:
                    data = base64.b64decode(tpl.get("data") or "")
                    s.add("manifest", data, max_len=16 * 1024)
        if f.endswith(".txt"):
            with open(p, "rb") as fh:
                s.add("manifest", fh.read())

    # Helm 2 records (genuine and synthetic).
    for sub in ("helm2", "helm2-synthetic"):
        d = os.path.join(fixtures, sub)
        for f in sorted(os.listdir(d)):
            if not f.endswith((".yaml", ".json")):
                continue
            for text in record_texts(os.path.join(d, f)):
                s.add("helm2_text", text, max_len=256 * 1024)
                body = body_of(text)
                if body is not None:
                    s.add("helm2_proto", body, max_len=256 * 1024)
                    s.add("convert", body, max_len=256 * 1024)

    # Helm error texts.
    ref = os.path.join(shared, "helm-storage.md")
    if os.path.exists(ref):
        with open(ref, encoding="utf-8") as fh:
            for line in fh:
                if "cannot be imported" in line or "validation error" in line:
                    s.add("helm_errors", line.strip())
    regressions = os.path.join(repo, "tests", "data", "fuzz-regressions")
    for t in TARGETS:
        d = os.path.join(regressions, t)
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    s.add(t, fh.read())

    # Slug vectors: every input, and the expected outputs (which must be fixed points).
    for vec in (os.path.join(shared, "werf-slug-vectors.tsv"), os.path.join(repo, "tests", "data", "werf-slug-vectors.tsv")):
        if not os.path.exists(vec):
            continue
        with open(vec, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("#") or not line.strip():
                    continue
                for field in line.rstrip("\n").split("\t"):
                    s.add("names", field)
    for kv in ("team=payments", "app.kubernetes.io/managed-by=Helm", "a==b", "=x", "noeq", "Example.COM/Key=v"):
        s.add("names", kv)

    # Times found in the fixtures, each with a Go layout.
    layouts = [
        "2006-01-02 15:04:05.999999999 -0700 MST",
        "Mon Jan _2 15:04:05 2006",
        "2006-01-02T15:04:05Z07:00",
        "Monday, 02-Jan-06 15:04:05 MST 002 __2 .000 ,999 Z0700 -07:00:00 3PM pm",
    ]
    times = set()
    for f in sorted(os.listdir(h3)):
        if f.endswith(".json"):
            with open(os.path.join(h3, f), encoding="utf-8") as fh:
                times.update(re.findall(r'"(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d))"', fh.read()))
    for i, t in enumerate(sorted(times)[:40]):
        s.add("gotime", t + "\n" + layouts[i % len(layouts)])

    # Dictionary for the JSON target: every key Helm writes, quoted.
    dicts = os.path.join(repo, "fuzz", "dicts")
    os.makedirs(dicts, exist_ok=True)
    with open(os.path.join(dicts, "helm3_json.dict"), "w") as fh:
        for k in sorted(json_keys):
            if k.isascii() and k.isprintable() and '"' not in k and "\\" not in k and len(k) < 40:
                fh.write('"\\"%s\\":"\n' % k)
        for tok in ("null", "true", "false", "1e400", "-0", "{}", "[]", '""', "\\u0000", "\\ud800"):
            fh.write('"%s"\n' % tok.replace("\\", "\\\\").replace('"', '\\"'))

    print("seeds: " + ", ".join(f"{t}={n}" for t, n in s.count.items()))


if __name__ == "__main__":
    main()
