"""Builds the course's static site (build/site/) from executed notebooks with Sphinx and nbsphinx.

Steps: find every lecture and assignment notebook; reuse an execution whose stamp (written by
run_notebooks.py) has this build's mode and the digest of the current sources, from the site's own cache
or from build/executed/ (what `npm run notebooks:full` leaves); execute the others in real Jupyter; stage
them as Sphinx sources (the students' version of each assignment notebook unless --solutions, a banner
that says when and how each page was executed, the plotly bundle served once from the site instead of
inside every page); and run sphinx-build. Nothing is fetched from the network at build or read time.

Usage: python3 build_site.py REPO [--quick] [--solutions] [--force] [--jobs N] [--out DIR]
"""

import argparse
import base64
import concurrent.futures as futures
import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import run_notebooks  # noqa: E402  (lib/tools/run_notebooks.py)

SECTIONS = [
    ("lectures", "Lectures", "notebooks"),
    ("a1", "Assignment 1", "solutions/a1"),
    ("a2", "Assignment 2", "solutions/a2"),
]


def log(msg):
    print(f"[site] {msg}", flush=True)


def page_of(repo, job):
    """Where a notebook's page goes in the site: lectures/NAME or aN/NAME."""
    rel = os.path.relpath(job["source"], repo)
    name = os.path.splitext(os.path.basename(rel))[0]
    return ("lectures" if rel.startswith("notebooks" + os.sep) else job["assignment"]) + "/" + name


def stamp(nb):
    return nb.metadata.get("semantic_gap", {}).get("executed")


def reusable(path, mode, digest):
    """The executed notebook at path if its stamp matches this build's mode and sources, else None."""
    if not os.path.exists(path):
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return None
    st = stamp(nb)
    if not st or st.get("mode") != mode or st.get("source_sha256") != digest or st.get("problems"):
        return None
    return nb


def executed_notebooks(repo, jobs, mode, force, workers):
    """Each job's executed notebook, executing only those whose sources changed since their last run."""
    cache = os.path.join(repo, "build", "site-cache", mode)
    found, stale = {}, []
    for job in jobs:
        rel = os.path.relpath(job["source"], repo)
        digest = run_notebooks.source_digest(repo, job)
        nb = None
        if not force:
            for where in (os.path.join(cache, rel), os.path.join(repo, "build", "executed", rel)):
                nb = reusable(where, mode, digest)
                if nb is not None:
                    break
        if nb is None:
            stale.append(job)
        else:
            found[job["source"]] = nb
            os.makedirs(os.path.dirname(os.path.join(cache, rel)), exist_ok=True)
            nbformat.write(nb, os.path.join(cache, rel))
    log(f"{len(found)} notebook(s) current, {len(stale)} to execute in {mode} mode")
    failed = []
    os.environ["SEMANTIC_GAP_QUICK"] = "1" if mode == "quick" else "0"
    with futures.ThreadPoolExecutor(max_workers=workers) as pool:
        running = {pool.submit(run_notebooks.execute, repo, job, False, cache): job for job in stale}
        for fut in futures.as_completed(running):
            job = running[fut]
            problems, seconds, _, nb = fut.result()
            label = job["label"]
            log(f"{'ok  ' if not problems else 'FAIL'} {label} ({seconds:.1f} s)")
            if problems:
                failed.append((label, problems))
            found[job["source"]] = nb
    return found, failed


# ---------------------------------------------------------------------------------------------------
# Staging

def is_plotly_bundle(output):
    """The output that carries the plotly.js bundle (lib's plotlyBundleHtml): the site loads it once."""
    data = output.get("data", {})
    text = data.get("text/html", "")
    if isinstance(text, list):
        text = "".join(text)
    return output.get("output_type") == "display_data" and "(function (define, module, exports)" in text and len(text) > 100_000


def strip_bundles(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not is_plotly_bundle(o)]


IMPORT = re.compile(r"^\s*import\b[^;]*?from\s*[\"'][^\"']+[\"'];?\s*$|^\s*import\s*[\"'][^\"']+[\"'];?\s*$", re.M | re.S)
DECLARED = re.compile(r"\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)")
DESTRUCTURED = re.compile(r"\b(?:const|let|var)\s*[\[{]([^=]*)[\]}]\s*=")
ASSIGNED = re.compile(r"^\s*([A-Za-z_$][\w$]*)\s*=[^=]", re.M)
WORD = re.compile(r"[A-Za-z_$][\w$]*")


def student_exports(stub_dir):
    """The names the students' .ts files export: whatever mentions them runs student code."""
    names = set()
    for name in os.listdir(stub_dir) if os.path.isdir(stub_dir) else []:
        if name.endswith(".ts"):
            with open(os.path.join(stub_dir, name), encoding="utf-8") as fh:
                src = fh.read()
            names.update(re.findall(r"\bexport\s+(?:async\s+)?(?:function\*?|class|const|let|interface|type)\s+([A-Za-z_$][\w$]*)", src))
    return names


def code_of(cell):
    src = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    src = re.sub(r"//[^\n]*", "", src)
    return IMPORT.sub("", src)


def answer_free(student_nb, executed_nb, stub_dir):
    """The students' notebook with the executed outputs of the cells that cannot give an answer away.

    A cell's outputs are dropped when it mentions a name the students' files export, or a variable that an
    earlier dropped cell defined (and so on, transitively): its output came from the student's code, which
    in the solutions is the answer. Cells before the exercises (data, pictures of the data) keep theirs.
    """
    out = copy.deepcopy(student_nb)
    tainted = set(student_exports(stub_dir))
    cleared = 0
    for cell, done in zip(out.cells, executed_nb.cells):
        if cell.cell_type != "code":
            continue
        src = code_of(cell)
        words = set(WORD.findall(src))
        if words & tainted or cell.source != done.source:
            defined = set(DECLARED.findall(src)) | set(ASSIGNED.findall(src))
            for group in DESTRUCTURED.findall(src):
                defined.update(WORD.findall(group))
            tainted |= defined
            cell.outputs = []
            cell.execution_count = None
            cleared += 1
        else:
            cell.outputs = copy.deepcopy(done.get("outputs", []))
            cell.execution_count = done.get("execution_count")
    return out, cleared


def banner(st, kind):
    """A markdown cell that says when and how the page was executed, and what it measured."""
    mode = "full mode (the full dataset when installed, training to the stated accuracies)" if st["mode"] == "full" else "quick mode (embedded data subset, few iterations)"
    lines = [
        f"*Executed {st['date']} in {mode}, {st['seconds']:.0f} s, with the TypeScript (tslab) kernel in Jupyter.*",
    ]
    if kind == "students":
        lines.append("*This is the students' version: outputs that would give an answer away are left out.*")
    figs = st.get("figures") or []
    if figs:
        # One raw HTML block: markdown inside <details> would be split apart on its way to reST. A "|" is
        # written as an entity, since reST would read |x| as a substitution.
        items = "".join(f"<li>{html.escape(f).replace('|', '&#124;')}</li>" for f in figs[:40])
        lines += ["", f"<details><summary>Figures this run measured</summary><ul>{items}</ul></details>"]
    return nbformat.v4.new_markdown_cell("\n".join(lines), metadata={"semantic_gap_banner": True})


BOLD_CODE = re.compile(r"\*\*`([^`]+)`\*\*")


def fix_markdown(nb):
    """reST cannot nest inline markup, so **`name`** (bold code) would show its backticks: raw HTML instead."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = BOLD_CODE.sub(lambda m: f"<strong><code>{html.escape(m.group(1))}</code></strong>", cell.source)


def stage_notebook(repo, job, executed, solutions):
    nb = copy.deepcopy(executed)
    kind = "lecture"
    if job.get("assignment") and not solutions:
        kind = "students"
        stub_dir = os.path.join(repo, "assignments", job["assignment"])
        student_path = os.path.join(stub_dir, os.path.basename(job["source"]))
        student_nb = nbformat.read(student_path, as_version=4)
        nb, _ = answer_free(student_nb, executed, stub_dir)
        nb.metadata = copy.deepcopy(executed.metadata)
    elif job.get("assignment"):
        kind = "solutions"
    strip_bundles(nb)
    fix_markdown(nb)
    st = stamp(executed)
    at = 1 if nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("#") else 0
    nb.cells.insert(at, banner(st, kind))
    return nb


def landing(pages, solutions, mode):
    """index.rst: what the course is, how to run it, and the table of contents in course order."""
    edition = "with the reference solutions" if solutions else "the students' edition: assignment pages leave out outputs that would give answers away"
    text = f"""semantic-gap
============

Image classification from nearest neighbours to convolutional networks, as TypeScript notebooks that run
in Jupyter. The lectures follow a course on image classification: the semantic gap, k-nearest neighbours,
cross-validation, linear classifiers, SVM and softmax losses, optimization and the gradient check,
backpropagation and convolutional networks. Each page here is a notebook as it ran, with its plots and
pictures; the data is Fashion-MNIST (28x28 gray images of clothing, 10 classes).

This edition of the site is {edition}. Its pages were executed in {mode} mode.

Run it yourself
---------------

With Node.js 20.19 or newer and Jupyter (on Debian or Ubuntu: ``apt-get install jupyter-notebook
jupyter-nbconvert jupyter-client python3-nbclient``), in a clone of the repository::

    npm start    # set up, then open the notebooks in Jupyter with the TypeScript kernel
    npm test     # set up, then run every test and execute every notebook

Read the lectures in order and run each cell; the assignments are for students, who fill in the ``.ts``
files beside each assignment notebook and watch its checks turn green.

"""
    for key, title, _ in SECTIONS:
        names = [p for p in pages if p.startswith(key + "/")]
        if not names:
            continue
        text += f".. toctree::\n   :caption: {title}\n   :maxdepth: 1\n\n" + "".join(f"   {p}\n" for p in names) + "\n"
    return text


def stage(repo, jobs, executed, solutions, mode, src):
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(os.path.join(src, "_static"))
    shutil.copy(os.path.join(HERE, "conf.py"), os.path.join(src, "conf.py"))
    shutil.copytree(os.path.join(HERE, "_templates"), os.path.join(src, "_templates"))
    shutil.copy(os.path.join(HERE, "custom.css"), os.path.join(src, "_static", "custom.css"))
    modules = os.path.join(repo, "node_modules")
    for what, dest in (("plotly.js-dist-min/plotly.min.js", "plotly.min.js"), ("mathjax/es5/tex-svg-full.js", "tex-svg-full.js")):
        shutil.copy(os.path.join(modules, what), os.path.join(src, "_static", dest))
    pages = []
    for job in jobs:
        page = page_of(repo, job)
        nb = stage_notebook(repo, job, executed[job["source"]], solutions)
        path = os.path.join(src, page + ".ipynb")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        nbformat.write(nb, path)
        pages.append(page)
    order = {key: i for i, (key, _, _) in enumerate(SECTIONS)}
    pages.sort(key=lambda p: (order[p.split("/")[0]], p))
    with open(os.path.join(src, "index.rst"), "w", encoding="utf-8") as fh:
        fh.write(landing(pages, solutions, mode))
    return pages


def inline_fonts(out):
    """Browsers refuse web fonts from file:// pages (each file is its own origin), so the theme's icon
    fonts go into its stylesheets as data: URLs; the site then reads the same from disk and from a server."""
    for d, _, files in os.walk(os.path.join(out, "_static")):
        for f in files:
            if not f.endswith(".css"):
                continue
            path = os.path.join(d, f)
            with open(path, encoding="utf-8") as fh:
                css = fh.read()

            def data_url(m):
                font = os.path.normpath(os.path.join(d, m.group(1)))
                if not os.path.exists(font):
                    return m.group(0)
                with open(font, "rb") as fh:
                    return f'url(data:font/woff2;base64,{base64.b64encode(fh.read()).decode()})'

            new = re.sub(r"url\(([^)\s'\"]+\.woff2)\)", data_url, css)
            if new != css:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(new)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("--quick", action="store_true", help="build from quick-mode executions (what the tests use)")
    parser.add_argument("--solutions", action="store_true", help="show the assignments with the reference solutions")
    parser.add_argument("--force", action="store_true", help="execute every notebook again")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", help="the site's folder (default build/site)")
    args = parser.parse_args()
    repo = os.path.abspath(args.repo)
    mode = "quick" if args.quick else "full"
    out = os.path.abspath(args.out or os.path.join(repo, "build", "site"))
    start = time.time()
    jobs = run_notebooks.discover(repo)
    executed, failed = executed_notebooks(repo, jobs, mode, args.force, args.jobs)
    if failed:
        for label, problems in failed:
            log(f"{label} failed:")
            for p in problems:
                log(f"    {p}")
        log("not building the site: fix the notebooks above first")
        return 1
    src = os.path.join(repo, "build", "site-src")
    pages = stage(repo, jobs, executed, args.solutions, mode, src)
    shutil.rmtree(out, ignore_errors=True)
    r = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", src, out], capture_output=True, text=True)
    warnings = [ln for ln in (r.stderr or "").splitlines() if ln.strip()]
    for ln in warnings:
        log(ln)
    if r.returncode != 0:
        log(f"sphinx-build failed ({r.returncode})")
        return 1
    inline_fonts(out)
    with open(os.path.join(out, "site.json"), "w", encoding="utf-8") as fh:
        json.dump({"mode": mode, "solutions": args.solutions, "pages": pages}, fh, indent=1)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(out) for f in fs)
    log(f"built {len(pages)} pages in {time.time() - start:.0f} s: {os.path.relpath(out, repo)}/index.html ({size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
