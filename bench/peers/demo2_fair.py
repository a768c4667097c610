# Why: the Nuvolaris training's demo2 kopf operator (a Sample's count becomes the replicas of a kustomize base,
# applied with kubectl apply -k), made fair for a side-by-side benchmark with kustomate: each object gets its own
# temporary copy of the same base (the training shares one folder, so two objects overwrite each other's patch), the
# files are serialized (JSON is YAML), and kubectl runs as an asyncio subprocess, so kopf handles objects at once.
import asyncio
import json
import os
import shutil
import tempfile

import kopf

BASE = os.environ["SAMPLE_BASE"]
KUBECTL = os.environ.get("KUBECTL", "kubectl")


@kopf.on.login()
def login(**kwargs):
    return kopf.login_with_kubeconfig(**kwargs)


def workdir(name, namespace, count):
    folder = tempfile.mkdtemp(prefix="demo2-")
    shutil.copytree(BASE, os.path.join(folder, "base"))
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo-deploy"}, "spec": {"replicas": count}}
    kustomization = {"resources": ["base"], "namespace": namespace, "namePrefix": f"{name}-", "patches": [{"path": "patch.yaml"}]}
    for file, content in (("patch.yaml", patch), ("kustomization.yaml", kustomization)):
        with open(os.path.join(folder, file), "w") as f:
            json.dump(content, f)
    return folder


async def kubectl(verb, folder):
    proc = await asyncio.create_subprocess_exec(KUBECTL, verb, "-k", folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise kopf.TemporaryError(err.decode(), delay=1)
    return out.decode().strip()


@kopf.on.create("nuvolaris.org", "v1", "samples")
async def sample_create(spec, name, namespace, **_):
    folder = workdir(name, namespace, spec["count"])
    try:
        return {"message": await kubectl("apply", folder)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Optional: no finalizer, so a benchmark namespace goes without the operator running, as the training's would.
@kopf.on.delete("nuvolaris.org", "v1", "samples", optional=True)
async def sample_delete(spec, name, namespace, **_):
    folder = workdir(name, namespace, spec["count"])
    try:
        await kubectl("delete", folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"message": "delete"}
