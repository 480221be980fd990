"""Writing catalog.yaml safely (issue 17): concurrent edits take turns on a lock and lose nothing,
killed writers' temporary files are cleaned up and ignored by git, Ctrl-C during the replace
never reports failure after the file was replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contrib_fakes import write_small_catalog
from zoo.catalog import load_catalog
from zoo.catalog import loader as catalog_loader
from zoo.catalog.lock import CatalogLocked, catalog_lock, lock_path
from zoo.cli import app
from zoo.contrib import catalog_edit
from zoo.contrib.add import AddRequest, add_paper

ROOT = Path(__file__).resolve().parent.parent


def _manual(title: str, pid: str) -> AddRequest:
    return AddRequest(title=title, url=f"https://example.org/{pid}.pdf", venue="CVPR 2024", paper_id=pid,
                      modality=["image"], technique=["pruning"], family=["vit"], training_free=True)


def test_two_adds_at_the_same_time_keep_both_entries(tmp_path, monkeypatch):
    """Both adds read the catalog, then write: without the lock the second write drops the first
    entry (check-then-replace race, widened here by a slow replace)."""
    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    real_write = catalog_edit.atomic_write_text

    def slow_write(path, text):
        time.sleep(0.3)
        real_write(path, text)

    monkeypatch.setattr(catalog_edit, "atomic_write_text", slow_write)
    errors: list[BaseException] = []

    def add(title: str, pid: str) -> None:
        try:
            add_paper(_manual(title, pid), catalog)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(f"First Concurrent Paper {n}", f"concurrent-{n}")) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    ids = load_catalog(catalog).ids
    assert "concurrent-1" in ids and "concurrent-2" in ids and len(ids) == 6


def test_the_lock_times_out_with_a_clear_message(tmp_path):
    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from zoo.catalog.lock import catalog_lock\n"
        "with catalog_lock(sys.argv[2]):\n    print('held', flush=True); time.sleep(20)\n"), str(ROOT), str(catalog)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CatalogLocked, match="another tokzoo command is editing"):
            with catalog_lock(catalog, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
    with catalog_lock(catalog, timeout=5):  # free again once the holder is gone
        pass
    assert lock_path(catalog).name == ".catalog.yaml.lock"


def test_stale_temporary_files_of_killed_writers_are_removed(tmp_path):
    target = tmp_path / "catalog.yaml"
    target.write_text("old\n", encoding="utf-8")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".catalog.yaml.{dead.pid}.k1ll3d.tmp"
    stale.write_text("half a catalog", encoding="utf-8")
    old_style = tmp_path / ".catalog.yaml.x7y8z9.tmp"  # tokzoo before the pid was in the name
    old_style.write_text("half a catalog", encoding="utf-8")
    past = time.time() - 300
    os.utime(old_style, (past, past))
    live = tmp_path / f".catalog.yaml.{os.getppid()}.alive.tmp"  # a running writer's file stays
    live.write_text("in progress", encoding="utf-8")
    catalog_loader.atomic_write_text(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert not stale.exists() and not old_style.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["catalog.yaml", live.name])


def test_temporary_and_lock_files_are_ignored_by_git(tmp_path):
    names = [".catalog.yaml.12345.ab12cd.tmp", ".catalog.yaml.lock", "repro/results/.x.json.99.zz.tmp"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True)
    assert sorted(result.stdout.split()) == sorted(names), result.stdout + result.stderr


def test_ctrl_c_during_the_replace_does_not_report_failure(tmp_path, monkeypatch, capsys):
    """SIGINT arriving right after os.replace: the file is new and the writer returns normally."""
    target = tmp_path / "catalog.yaml"
    target.write_text("old\n", encoding="utf-8")
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # let the signal be delivered while still "inside" the write

    monkeypatch.setattr(catalog_loader.os, "replace", replace_then_interrupt)
    catalog_loader.atomic_write_text(target, "new\n")  # used to raise KeyboardInterrupt here
    assert target.read_text(encoding="utf-8") == "new\n"
    assert "the write was completed first" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_ctrl_c_during_the_replace_of_tokzoo_add(tmp_path, monkeypatch):
    catalog = write_small_catalog(tmp_path / "catalog.yaml")
    real_replace = os.replace

    def replace_then_interrupt(src, dst):
        real_replace(src, dst)
        if str(dst).endswith("catalog.yaml"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)

    monkeypatch.setattr(catalog_loader.os, "replace", replace_then_interrupt)
    result = CliRunner().invoke(app, ["add", "--title", "Interrupted Paper", "--url", "https://example.org/i.pdf",
                                      "--venue", "CVPR 2024", "-m", "image", "-t", "pruning", "-f", "vit",
                                      "--catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "interrupted-paper" in load_catalog(catalog).ids
