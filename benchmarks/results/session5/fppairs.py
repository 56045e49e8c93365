import json, subprocess, sys, os, itertools
snap, db, pool = sys.argv[1:4]
root = os.path.expanduser(f"~/.cache/imgfind-bench/datasets/{pool}")
man = {}
for line in open(f"{root}/manifest.jsonl"):
    r = json.loads(line); man[os.path.join(root, r["file"])] = r
env = dict(os.environ, PYTHONPATH=snap)
out = subprocess.run([sys.executable, "-m", "imgfind", "--db", db, "dedupe", "--format", "json"], capture_output=True, text=True, env=env)
doc = json.loads(out.stdout)
groups = doc["groups"] if isinstance(doc, dict) else doc
fp = []
for g in groups:
    files = g["files"] if isinstance(g, dict) else g
    paths = [f["path"] if isinstance(f, dict) else f for f in files]
    for a, b in itertools.combinations(paths, 2):
        ra, rb = man.get(a), man.get(b)
        if not ra or not rb: continue
        if (ra["original"] is None or rb["original"] is None or ra["original"] != rb["original"]) and not (rb["original"] in (ra.get("also_contains") or []) or ra["original"] in (rb.get("also_contains") or [])):
            fp.append((ra["file"], rb["file"], ra["tier"], rb["tier"]))
print(len(groups), "groups;", len(fp), "different-original pairs")
for p in fp: print("  ", p)
