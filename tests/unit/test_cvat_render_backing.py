"""CVAT_DEFAULT_BACKING_CS_ID per setting of cvat_backing_cloud_storage_id (the id the seed role records).

Setting the id changes the environment of server and workers and nothing else in the compose file, so
`docker compose up` in playbooks/site.yml's last play recreates only those services.
"""
from __future__ import annotations

from test_cvat_render import _BACKEND_SERVICES, load_compose, render


def test_backing_storage_id_reaches_server_and_workers_only(tmp_path):
    # same directory (paths and kept secrets equal): the second run is site.yml's re-render after seeding
    _, project, _ = render(tmp_path)
    without = load_compose(project)["services"]
    _, project, _ = render(tmp_path, {"cvat_backing_cloud_storage_id": "7"})
    with_id = load_compose(project)["services"]
    for name in _BACKEND_SERVICES:
        assert without[name]["environment"]["CVAT_DEFAULT_BACKING_CS_ID"] == "", name  # CVAT: unset
        assert with_id[name]["environment"]["CVAT_DEFAULT_BACKING_CS_ID"] == "7", name
    differ = sorted(n for n in with_id if with_id[n] != without[n])
    assert differ == sorted(_BACKEND_SERVICES)
    for name in differ:
        a = dict(with_id[name], environment={k: v for k, v in with_id[name]["environment"].items()
                                             if k != "CVAT_DEFAULT_BACKING_CS_ID"})
        b = dict(without[name], environment={k: v for k, v in without[name]["environment"].items()
                                             if k != "CVAT_DEFAULT_BACKING_CS_ID"})
        assert a == b, name


def test_an_integer_id_from_set_fact_renders_as_a_string(tmp_path):
    _, project, _ = render(tmp_path, {"cvat_backing_cloud_storage_id": 12})
    assert load_compose(project)["services"]["cvat_worker_import"]["environment"]["CVAT_DEFAULT_BACKING_CS_ID"] == "12"
