"""Cloud storage (moto as S3), projects with labels, quality settings, webhooks and task data as CVAT
v2.73.0 answers them, including how a failed data attach leaves a task."""
from __future__ import annotations

import math

import boto3
import pytest

from .conftest import png, wait_request

FILES = [f"raw/b1/img{i:02d}.png" for i in range(12)]
LABEL_KEYS = {"id", "name", "color", "attributes", "type", "sublabels", "project_id", "parent_id", "has_parent"}


@pytest.fixture(scope="module")
def storage(cvat, admin_bearer, org, moto_server):
    bucket = cvat.run + "-bucket"
    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1",
                      aws_access_key_id="ctkey", aws_secret_access_key="ctsecret")
    s3.create_bucket(Bucket=bucket)
    for i, key in enumerate(FILES):
        s3.put_object(Bucket=bucket, Key=key, Body=png(rgb=(i * 20, 100, 50)))
    r = cvat.call("POST", "/api/cloudstorages", auth=admin_bearer, headers={"X-Organization": org["slug"]}, json={
        "provider_type": "AWS_S3_BUCKET", "resource": bucket, "display_name": cvat.name("cs"),
        "credentials_type": "KEY_SECRET_KEY_PAIR", "key": "ctkey", "secret_key": "ctsecret",
        "specific_attributes": f"region=us-east-1&endpoint_url={moto_server.url}"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def project(cvat, admin_bearer, org):
    r = cvat.call("POST", "/api/projects", auth=admin_bearer, headers={"X-Organization": org["slug"]}, json={
        "name": cvat.name("p"), "labels": [
            {"name": "car", "type": "rectangle"},
            {"name": "light", "color": "#ff0000", "attributes": [
                {"name": "state", "mutable": False, "input_type": "select", "values": ["red", "green"]}]}]})
    assert r.status_code == 201, r.text
    return r.json()


def test_cloud_storage_available(cvat, admin_bearer, org, storage):
    r = cvat.call("GET", f"/api/cloudstorages/{storage['id']}/status", auth=admin_bearer,
                  headers={"X-Organization": org["slug"]})
    assert (r.status_code, r.json()) == (200, "AVAILABLE")
    assert "key" not in storage and "secret_key" not in storage and "session_token" not in storage


def test_attribute_needs_mutable(cvat, admin_bearer, org):
    r = cvat.call("POST", "/api/projects", auth=admin_bearer, headers={"X-Organization": org["slug"]}, json={
        "name": cvat.name("nomut"), "labels": [
            {"name": "car"}, {"name": "light", "attributes": [{"name": "s", "input_type": "select", "values": ["a"]}]}]})
    assert (r.status_code, r.json()) == (400, {"labels": [{}, {"attributes": [{"mutable": ["This field is required."]}]}]})
    r = cvat.call("GET", "/api/projects", auth=admin_bearer, headers={"X-Organization": org["slug"]},
                  params={"name": cvat.name("nomut")})
    assert r.json()["count"] == 0, "nothing is created"


def test_project_labels_quality_webhook_shapes(cvat, admin_bearer, org, project):
    ctx = {"X-Organization": org["slug"]}
    labels = cvat.call("GET", "/api/labels", auth=admin_bearer, headers=ctx,
                       params={"project_id": project["id"]}).json()["results"]
    assert [lab["name"] for lab in labels] == ["car", "light"]
    assert all(set(lab) == LABEL_KEYS for lab in labels), labels
    light = labels[1]
    assert light["type"] == "any" and light["color"] == "#ff0000"
    assert light["attributes"][0]["default_value"] == "" and light["attributes"][0]["values"] == ["red", "green"]
    qs = cvat.call("GET", "/api/quality/settings", auth=admin_bearer, headers=ctx,
                   params={"project_id": project["id"]}).json()["results"]
    assert len(qs) == 1 and qs[0]["task_id"] is None and qs[0]["inherit"] is True
    assert qs[0]["max_validations_per_job"] == 0 and qs[0]["target_metric"] == "accuracy"
    r = cvat.call("POST", "/api/webhooks", auth=admin_bearer, headers=ctx, json={
        "target_url": "https://hooks.example.com/ct", "type": "project", "project_id": project["id"],
        "events": ["update:job"], "secret": "ct-secret"})
    assert r.status_code == 201, r.text
    hook = r.json()
    assert "secret" not in hook and "last_status" not in hook and "last_delivery_date" not in hook
    assert hook["organization"] == org["id"] and hook["events"] == ["update:job"]


def _task(cvat, auth, org, project, suffix, segment_size=4):
    r = cvat.call("POST", "/api/tasks", auth=auth, headers={"X-Organization": org["slug"]},
                  json={"name": cvat.name(suffix), "project_id": project["id"], "segment_size": segment_size})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["data"] is None and t["media_type"] == "" and t["jobs"]["count"] == 0
    for key in ("size", "data_cloud_storage_id", "image_quality", "data_chunk_size"):
        assert key not in t, f"a task without data has no {key!r} key"
    return t


def _attach(cvat, auth, org, task, storage, files=FILES, sorting="natural", validation=None):
    body = {"image_quality": 70, "server_files": files, "cloud_storage_id": storage["id"], "sorting_method": sorting,
            "use_cache": True}
    if validation:
        body["validation_params"] = validation
    r = cvat.call("POST", f"/api/tasks/{task['id']}/data/", auth=auth, headers={"X-Organization": org["slug"]},
                  json=body)
    if r.status_code != 202:
        return r, None
    return r, wait_request(cvat, auth, r.json()["rq_id"])


def _get(cvat, auth, org, task):
    return cvat.call("GET", f"/api/tasks/{task['id']}", auth=auth, headers={"X-Organization": org["slug"]}).json()


def test_gt_pool_needs_random_sorting(cvat, admin_bearer, org, project, storage):
    t = _task(cvat, admin_bearer, org, project, "pool-natural")
    pool = {"mode": "gt_pool", "frame_selection_method": "random_uniform", "frame_count": 3, "frames_per_job_count": 1}
    r, req = _attach(cvat, admin_bearer, org, t, storage, validation=pool)
    assert r.status_code == 202 and r.json()["rq_id"] == f"action=create&target=task&target_id={t['id']}"
    assert req["status"] == "failed"
    assert 'validation mode "gt_pool" can only be used with "random" sorting' in req["message"]
    after = _get(cvat, admin_bearer, org, t)
    assert after["size"] == 0 and after["jobs"]["count"] == 0 and after["media_type"] == ""
    assert after["data"] is not None, "the Data object stays after a failed creation"


def test_gt_pool_random(cvat, admin_bearer, org, project, storage):
    t = _task(cvat, admin_bearer, org, project, "pool-random")
    pool = {"mode": "gt_pool", "frame_selection_method": "random_uniform", "frame_count": 3, "frames_per_job_count": 1}
    r, req = _attach(cvat, admin_bearer, org, t, storage, sorting="random", validation=pool)
    assert req["status"] == "finished", req
    after = _get(cvat, admin_bearer, org, t)
    regular = len(FILES) - 3
    jobs = math.ceil(regular / 4)
    assert after["validation_mode"] == "gt_pool"
    assert after["segment_size"] == 0, "CVAT reports segment_size 0 for gt_pool tasks"
    assert after["overlap"] == 0
    assert after["size"] == regular + jobs * 1 + 3 == 15
    assert after["jobs"]["count"] == jobs + 1 == 4
    assert after["media_type"] == "image" and after["dimension"] == "2d" and after["image_quality"] == 70
    r, _ = _attach(cvat, admin_bearer, org, t, storage, sorting="random")
    assert (r.status_code, r.json()) == (400, ["Adding more data is not supported"])


def test_gt_adds_a_ground_truth_job(cvat, admin_bearer, org, project, storage):
    t = _task(cvat, admin_bearer, org, project, "gt")
    r, req = _attach(cvat, admin_bearer, org, t, storage,
                     validation={"mode": "gt", "frame_selection_method": "random_uniform", "frame_count": 2})
    assert req["status"] == "finished", req
    after = _get(cvat, admin_bearer, org, t)
    assert after["validation_mode"] == "gt" and after["segment_size"] == 4 and after["size"] == len(FILES)
    assert after["jobs"]["count"] == math.ceil(len(FILES) / 4) + 1


def test_failed_attach_cannot_be_repaired(cvat, admin_bearer, org, project, storage):
    t = _task(cvat, admin_bearer, org, project, "missing")
    r, req = _attach(cvat, admin_bearer, org, t, storage, files=["raw/nope/x.png"])
    assert req["status"] == "failed"
    assert f"The file 'raw/nope/x.png' not found on the cloud storage '{storage['resource']}'" in req["message"]
    after = _get(cvat, admin_bearer, org, t)
    assert (after["size"], after["jobs"]["count"], after["media_type"]) == (0, 0, "")
    assert after["data"] is not None and after["data_cloud_storage_id"] == storage["id"]
    # a second POST /data is accepted, but CVAT adds the new files to the failed ones: it fails the same way
    r, req = _attach(cvat, admin_bearer, org, t, storage)
    assert r.status_code == 202 and req["status"] == "failed"
    assert "raw/nope/x.png" in req["message"]
    assert _get(cvat, admin_bearer, org, t)["size"] == 0
