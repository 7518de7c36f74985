"""Executes the curriculum's notebooks in real Jupyter with the tslab kernel and checks them.

A notebook fails when a cell raises, when anything is written to stderr (tslab reports TypeScript type
errors there while the cell still "succeeds"), or when an output its metadata promises is missing:
    "metadata": {"semantic_gap": {"expect": ["image/png", "plotly"]}}

Lecture notebooks run where they are. A solved assignment notebook (solutions/aN/X.ipynb) runs in a
copy of the students' folder assignments/aN with the reference .ts files laid over the stubs, which
is exactly what a student who finished the exercises has.

Executed copies are written under build/executed/ (build products, not committed), or under --out. Each
carries a stamp in its metadata (semantic_gap.executed: mode, date, seconds, the digest of its sources,
the figures it measured, its problems), which the site build reads to reuse executions that are current.
Usage: python3 run_notebooks.py REPO [--jobs N] [--html] [--out DIR] [name-filter ...]
"""

import argparse
import datetime
import hashlib
import re
import concurrent.futures as futures
import os
import shutil
import sys
import time
import traceback

import nbclient
import nbformat

def cell_timeout():
    """Seconds one cell may run: 15 minutes in quick mode, an hour in full mode (the training cells of the
    networks take minutes on a 2-core machine, more on a loaded one); SEMANTIC_GAP_CELL_TIMEOUT overrides."""
    default = "900" if os.environ.get("SEMANTIC_GAP_QUICK", "") not in ("", "0", "false") else "3600"
    return int(os.environ.get("SEMANTIC_GAP_CELL_TIMEOUT", default))


def discover(repo):
    jobs = []
    nb_dir = os.path.join(repo, "notebooks")
    for name in sorted(os.listdir(nb_dir)) if os.path.isdir(nb_dir) else []:
        if name.endswith(".ipynb"):
            jobs.append({"label": f"notebooks/{name}", "source": os.path.join(nb_dir, name), "cwd": nb_dir})
    sol_root = os.path.join(repo, "solutions")
    for assignment in sorted(os.listdir(sol_root)) if os.path.isdir(sol_root) else []:
        sol_dir = os.path.join(sol_root, assignment)
        if not os.path.isdir(sol_dir):
            continue
        for name in sorted(os.listdir(sol_dir)):
            if name.endswith(".ipynb"):
                jobs.append({
                    "label": f"assignments/{assignment}/{name} (with the reference solutions)",
                    "source": os.path.join(sol_dir, name),
                    "assignment": assignment,
                })
    return jobs


def source_digest(repo, job):
    """SHA-256 of what an execution depends on besides lib: the notebook and, for an assignment notebook,
    the reference .ts files it runs with."""
    h = hashlib.sha256()
    with open(job["source"], "rb") as fh:
        h.update(fh.read())
    if job.get("assignment"):
        sol_dir = os.path.dirname(job["source"])
        for name in sorted(os.listdir(sol_dir)):
            if name.endswith(".ts") and not name.endswith(".test.ts"):
                h.update(name.encode())
                with open(os.path.join(sol_dir, name), "rb") as fh:
                    h.update(fh.read())
    return h.hexdigest()


def current_mode():
    return "quick" if os.environ.get("SEMANTIC_GAP_QUICK", "") not in ("", "0", "false") else "full"


def prepare_assignment_dir(repo, assignment, notebook):
    """A copy of assignments/aN with the solutions' .ts files over the stubs, inside the repo so that
    node_modules (and so the library) resolves from it; one per notebook, so parallel runs never share one."""
    work = os.path.join(repo, "build", "nb-run", assignment, os.path.splitext(notebook)[0])
    shutil.rmtree(work, ignore_errors=True)
    stub_dir = os.path.join(repo, "assignments", assignment)
    if os.path.isdir(stub_dir):
        shutil.copytree(stub_dir, work, ignore=shutil.ignore_patterns("*.ipynb"))
    else:
        os.makedirs(work)
    sol_dir = os.path.join(repo, "solutions", assignment)
    for name in os.listdir(sol_dir):
        if name.endswith(".ts") and not name.endswith(".test.ts"):
            shutil.copy(os.path.join(sol_dir, name), os.path.join(work, name))
    return work


def has_plotly(data):
    if "application/vnd.plotly.v1+json" in data:
        return True
    html = data.get("text/html", "")
    if isinstance(html, list):
        html = "".join(html)
    return "Plotly" in html or "plotly" in html


def check(nb):
    problems = []
    found = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                problems.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
            elif kind == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                problems.append(f"cell {index} wrote to stderr: {text.strip()[:500]}")
            elif kind in ("display_data", "execute_result", "update_display_data"):
                data = out.get("data", {})
                found.update(data.keys())
                if has_plotly(data):
                    found.add("plotly")
    expected = nb.metadata.get("semantic_gap", {}).get("expect", [])
    for want in expected:
        if want not in found:
            problems.append(f"the notebook promises a {want} output and produced none")
    return problems


FIGURE_WORDS = re.compile(r"accuracy|PASS|FAIL|SLOW|relative error|loss at init|faster|[0-9.]+ s\b", re.I)


def figures(nb):
    """The lines of an executed notebook that state measured figures: accuracies, timings, verdicts."""
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = out.get("text", "")
            elif "text/html" in out.get("data", {}) and "<script" not in out["data"]["text/html"]:
                text = re.sub(r"<[^>]+>", "", out["data"]["text/html"])
            else:
                continue
            lines += [ln.strip() for ln in text.splitlines() if ln.strip() and FIGURE_WORDS.search(ln)]
    return lines


def execute(repo, job, html, out_dir=None):
    start = time.time()
    started = datetime.datetime.now(datetime.timezone.utc)
    nb = nbformat.read(job["source"], as_version=4)
    cwd = job.get("cwd") or prepare_assignment_dir(repo, job["assignment"], os.path.basename(job["source"]))
    client = nbclient.NotebookClient(
        nb,
        timeout=cell_timeout(),
        kernel_name="tslab",
        allow_errors=True,
        resources={"metadata": {"path": cwd}},
    )
    crash = None
    try:
        client.execute()
    except Exception as exc:  # a dead kernel or a timeout: report it like a failing cell
        crash = f"{type(exc).__name__}: {exc}"
    problems = check(nb)
    if crash:
        problems.insert(0, crash)
    seconds = time.time() - start
    nb.metadata.setdefault("semantic_gap", {})["executed"] = {
        "mode": current_mode(),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(seconds, 1),
        "source_sha256": source_digest(repo, job),
        "figures": figures(nb),
        "problems": problems,
    }
    rel = os.path.relpath(job["source"], repo)
    out_path = os.path.join(out_dir or os.path.join(repo, "build", "executed"), rel)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    nbformat.write(nb, out_path)
    if html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(out_path[: -len(".ipynb")] + ".html", "w", encoding="utf-8") as fh:
            fh.write(body)
    return problems, seconds, out_path, nb


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--html", action="store_true", help="also export each executed notebook to HTML")
    parser.add_argument("--record", action="store_true", help="write the measured figures to build/executed/figures.md")
    parser.add_argument("--out", help="write the executed copies here instead of build/executed")
    parser.add_argument("filters", nargs="*", help="run only notebooks whose path contains one of these")
    args = parser.parse_intermixed_args()
    repo = os.path.abspath(args.repo)
    jobs = discover(repo)
    if args.filters:
        jobs = [j for j in jobs if any(f in j["label"] or f in j["source"] for f in args.filters)]
    if not jobs:
        print("no notebooks matched", file=sys.stderr)
        return 1
    mode = current_mode()
    print(f"Executing {len(jobs)} notebooks in {mode} mode with the tslab kernel, {args.jobs} at a time", flush=True)
    failed = 0
    recorded = {}
    with futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        out_dir = os.path.abspath(args.out) if args.out else None
        running = {pool.submit(execute, repo, job, args.html, out_dir): job for job in jobs}
        for fut in futures.as_completed(running):
            job = running[fut]
            try:
                problems, seconds, out_path, executed = fut.result()
                recorded[job["label"]] = (seconds, figures(executed))
            except Exception:
                problems, seconds, out_path = [traceback.format_exc()], 0.0, "-"
            status = "ok  " if not problems else "FAIL"
            print(f"{status} {job['label']}  ({seconds:.1f} s) -> {os.path.relpath(out_path, repo)}", flush=True)
            for p in problems:
                print(f"       {p}", flush=True)
            failed += 1 if problems else 0
    if args.record:
        path = os.path.join(repo, "build", "executed", "figures.md")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"# Figures measured by the notebooks ({mode} mode)\n\n")
            for label in sorted(recorded):
                seconds, lines = recorded[label]
                fh.write(f"## {label} ({seconds:.0f} s)\n\n" + "".join(f"- {ln}\n" for ln in lines) + "\n")
        print(f"figures recorded in {os.path.relpath(path, repo)}", flush=True)
    print(f"{len(jobs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
