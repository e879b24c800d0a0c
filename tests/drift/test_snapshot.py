"""`drift --live FILE|DIR`: live state from `kubectl get -o yaml|json` dumps."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml

from checker.cli import main

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "odoo", "namespace": "erp"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "odoo"}},
             "template": {"metadata": {"labels": {"app": "odoo"}},
                          "spec": {"containers": [{"name": "odoo", "image": "odoo:17.0"}]}}},
}


def _live(obj: dict[str, object], **changes: object) -> dict[str, object]:
    live = json.loads(json.dumps(obj))
    live["metadata"].update({"uid": "0b7c", "resourceVersion": "81", "generation": 3})
    live["status"] = {"replicas": 2}
    live.update(changes)
    return live


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["drift", *args])
    return code, out.getvalue(), err.getvalue()


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "odoo.yaml").write_text(yaml.safe_dump(DEPLOYMENT, sort_keys=False))
    return repo


def test_list_json_and_multi_document_dumps_read_alike(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    live = _live(DEPLOYMENT)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    (dumps / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                 "items": [live]}))
    (tmp_path / "multi.yaml").write_text(yaml.safe_dump_all([live]))
    for source in (dumps, tmp_path / "multi.yaml"):
        code, out, err = _run(str(repo), "--live", str(source), "--fail-on", "low")
        assert (code, err) == (0, ""), out
        assert "no findings" in out.lower() or "0 findings" in out


def test_changed_field_is_located_in_the_repository(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    live = _live(DEPLOYMENT)
    live["spec"]["replicas"] = 5  # type: ignore[index]
    (tmp_path / "live.yaml").write_text(yaml.safe_dump(live))
    code, out, _ = _run(str(repo), "--live", str(tmp_path / "live.yaml"), "--format", "json",
                        "--fail-on", "low")
    assert code == 1
    [finding] = json.loads(out)["findings"]
    assert finding["rule_id"] == "DRF003"
    assert finding["location"] == {"path": "odoo.yaml", "line": 7, "column": 3,
                                   "pointer": "/spec/replicas"}
    assert finding["message"] == "spec.replicas: declared 2, live 5"
    assert finding["details"]["declared"] == 2 and finding["details"]["live"] == 5


def test_kinds_a_dump_does_not_hold_are_unchecked_not_missing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "odoo",
                                                                   "namespace": "erp"},
               "spec": {"ports": [{"port": 80}]}}
    (tmp_path / "live.yaml").write_text(yaml.safe_dump(service))
    code, out, _ = _run(str(repo), "--live", str(tmp_path / "live.yaml"), "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert report["findings"] == []
    [error] = report["errors"]
    assert "1 declared Deployment object(s) (apps) not compared" in error["message"]
    assert "the live state has no Deployment objects" in error["message"]


def test_unreadable_dump_fails_closed_with_file_and_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    good = yaml.safe_dump(_live(DEPLOYMENT))
    (tmp_path / "live.yaml").write_text(good + "---\nkind: [unclosed\n")
    code, out, _ = _run(str(repo), "--live", str(tmp_path / "live.yaml"), "--format", "json")
    assert code == 2
    report = json.loads(out)
    assert report["findings"] == []  # the Deployment may be in the unreadable part
    paths = {(e["path"], e["message"].split(":")[0]) for e in report["errors"]}
    assert any(path and path.endswith("live.yaml") for path, _ in paths)
    assert any("Deployment" in e["message"] and "not compared" in e["message"]
               for e in report["errors"])


def test_usage_errors(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    code, _, err = _run(str(repo), "--live", str(tmp_path / "absent.yaml"))
    assert code == 2 and "--live" in err and "does not exist" in err
    (tmp_path / "live.yaml").write_text(yaml.safe_dump(_live(DEPLOYMENT)))
    code, _, err = _run(str(repo), "--live", str(tmp_path / "live.yaml"), "--server-side-diff")
    assert code == 2 and "needs a cluster" in err
    code, _, err = _run(str(repo), "--live", str(tmp_path / "live.yaml"), "--context", "x")
    assert code == 2 and "not allowed with argument" in err


def test_a_git_ignored_dump_directory_is_read(tmp_path: Path, monkeypatch: Any) -> None:
    repo = _repo(tmp_path)
    (tmp_path / ".gitignore").write_text("dumps/\n")
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    live = _live(DEPLOYMENT)
    live["spec"]["replicas"] = 5  # type: ignore[index]
    (dumps / "live.yaml").write_text(yaml.safe_dump(live))
    monkeypatch.chdir(tmp_path)
    code, out, _ = _run(str(repo), "--live", "dumps", "--format", "json", "--fail-on", "low")
    assert code == 1
    assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["DRF003"]
