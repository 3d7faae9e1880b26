"""The Helm chart (helm/enrs), rendered with helm-render and checked against Kubernetes' schemas;
and the deployment files it relies on (the container entrypoint, the compose file).

helm-render is found at $HELM_RENDER, else at ../shared/tools/helm-render/helm-render beside the
repository (or beside the main checkout of a git worktree); without it the chart's tests are
skipped. It builds itself with Debian's Go on its first run.
"""

import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "enrs"
CI_VALUES = CHART / "ci-values.yaml"
KUBERNETES_VERSION = "1.31.0"  # the version helm-render's .Capabilities answers
DEFAULT_SERVICES = {"identity", "directory", "portal"}
SECRET_VARIABLES = {"DATABASE_URL", "SECRET_KEY", "PORTAL_OIDC_CLIENT_SECRET"}


def checkout_roots():
    """The repository root, and the main checkout's when this one is a linked git worktree."""
    roots = [ROOT]
    git = ROOT / ".git"
    if git.is_file():  # "gitdir: <main checkout>/.git/worktrees/<name>"
        gitdir = ROOT / git.read_text(encoding="utf-8").split(":", 1)[1].strip()
        roots.append(gitdir.resolve().parents[2])
    return roots


def helm_render_path():
    """$HELM_RENDER, else ../shared/tools/helm-render/helm-render beside the checkout."""
    candidates = [os.environ.get("HELM_RENDER")]
    candidates += [
        root.parent / "shared/tools/helm-render/helm-render" for root in checkout_roots()
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


HELM_RENDER = helm_render_path()


def needs_helm_render(test):
    """A test of the rendered chart: slow, and skipped where helm-render is not found."""
    reason = "helm-render not found (set HELM_RENDER or place it at ../shared/tools/helm-render)"
    return pytest.mark.slow(pytest.mark.skipif(HELM_RENDER is None, reason=reason)(test))


def render(*sets, values=(CI_VALUES,), check=True):
    """Run helm-render on the chart; the finished process (stdout: the manifests)."""
    command = [str(HELM_RENDER), str(CHART), "--name", "enrs", "--namespace", "enrs"]
    for path in values:
        command += ["-f", str(path)]
    for assignment in sets:
        command += ["--set", assignment]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def documents(*sets):
    """The rendered Kubernetes objects (empty documents left out)."""
    return [doc for doc in yaml.safe_load_all(render(*sets).stdout) if doc]


def of_kind(docs, kind):
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_specs(docs):
    """Every pod template of the chart: Deployments, Jobs and CronJobs."""
    specs = []
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "CronJob":
            template = doc["spec"]["jobTemplate"]["spec"]["template"]
            specs.append((doc["metadata"]["name"], template["spec"]))
    return specs


@pytest.fixture(scope="module")
def rendered():
    return documents()


@needs_helm_render
def test_every_rendered_document_is_a_valid_kubernetes_object(rendered):
    assert len(rendered) > 20
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@needs_helm_render
def test_each_enabled_service_has_a_web_deployment_and_a_single_worker(rendered):
    deployments = of_kind(rendered, "Deployment")
    for service in DEFAULT_SERVICES:
        web = deployments[f"enrs-{service}-web"]
        assert web["spec"]["replicas"] >= 2
        container = web["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["web"]
        assert container["image"] == f"registry.example.fr/enrs/{service}:0.1.0"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert web["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    for service in DEFAULT_SERVICES - {"portal"}:  # the portal consumes no event
        worker = deployments[f"enrs-{service}-worker"]
        assert worker["spec"]["replicas"] == 1
        assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    with_portal_worker = of_kind(documents("services.portal.worker.enabled=true"), "Deployment")
    assert "enrs-portal-worker" in with_portal_worker


@needs_helm_render
def test_no_container_runs_as_root_or_writes_its_root_filesystem(rendered):
    specs = pod_specs(rendered)
    assert "enrs-identity-key-rotation" in dict(specs)
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, name
            assert context.get("runAsUser", 999) != 0, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["seccompProfile"]["type"] == "RuntimeDefault", name
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, name


@needs_helm_render
def test_no_secret_value_is_rendered_into_a_config_map_or_an_environment_variable(rendered):
    for name, config_map in of_kind(rendered, "ConfigMap").items():
        assert not SECRET_VARIABLES & set(config_map["data"]), name
    for name, spec in pod_specs(rendered):
        for container in spec["containers"]:
            variables = {item["name"] for item in container.get("env", [])}
            assert not SECRET_VARIABLES & variables, name
            assert {"DATABASE_URL_FILE", "SECRET_KEY_FILE"} <= variables, name
    assert of_kind(rendered, "Secret") == {}


@needs_helm_render
def test_the_portal_reads_its_client_secret_from_its_existing_secret(rendered):
    spec = of_kind(rendered, "Deployment")["enrs-portal-web"]["spec"]["template"]["spec"]
    env = {item["name"]: item.get("value") for item in spec["containers"][0]["env"]}
    assert env["PORTAL_OIDC_CLIENT_SECRET_FILE"] == "/run/secrets/enrs/oidc-client-secret"
    volume = next(volume for volume in spec["volumes"] if volume["name"] == "secrets")
    assert volume["secret"]["secretName"] == "enrs-portal"


@needs_helm_render
def test_the_directory_shares_its_import_volume_between_web_and_worker(rendered):
    claim = of_kind(rendered, "PersistentVolumeClaim")["enrs-directory-imports"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    deployments = of_kind(rendered, "Deployment")
    for name in ("enrs-directory-web", "enrs-directory-worker"):
        volumes = deployments[name]["spec"]["template"]["spec"]["volumes"]
        claims = [
            v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
        ]
        assert claims == ["enrs-directory-imports"], name
    annotations = of_kind(rendered, "Ingress")["enrs-directory"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "2100m"


@needs_helm_render
def test_web_pods_leave_migrations_to_the_job_that_runs_before_them(rendered):
    jobs = of_kind(rendered, "Job")
    assert set(jobs) == {f"enrs-{service}-migrate" for service in DEFAULT_SERVICES}
    identity_job = jobs["enrs-identity-migrate"]
    assert "pre-upgrade" in identity_job["metadata"]["annotations"]["helm.sh/hook"]
    container = identity_job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["flask", "--app", "identity", "migrate"]
    for config_map in of_kind(rendered, "ConfigMap").values():
        assert config_map["data"]["MIGRATE_AT_START"] == "false"


@needs_helm_render
def test_web_pods_run_threaded_workers_unless_given_one_thread(rendered):
    for config_map in of_kind(rendered, "ConfigMap").values():
        data = config_map["data"]
        assert (data["GUNICORN_WORKER_CLASS"], data["GUNICORN_THREADS"]) == ("gthread", "4")
    single = of_kind(documents("serviceDefaults.web.gunicornThreads=1"), "ConfigMap")
    for config_map in single.values():
        data = config_map["data"]
        assert (data["GUNICORN_WORKER_CLASS"], data["GUNICORN_THREADS"]) == ("sync", "1")


@needs_helm_render
@pytest.mark.parametrize(
    ("unset", "message"),
    [
        ("global.oidcIssuer", "global.oidcIssuer"),
        ("global.kafkaBootstrapServers", "global.kafkaBootstrapServers"),
        ("global.image.registry", "global.image.registry"),
        ("services.directory.publicUrl", "services.directory.publicUrl"),
        ("services.portal.existingSecret", "services.portal.existingSecret"),
    ],
)
def test_a_missing_required_value_stops_the_rendering_with_its_name(unset, message):
    result = render(f"{unset}=", check=False)
    assert result.returncode != 0
    assert message in result.stderr


@needs_helm_render
def test_a_disabled_service_renders_nothing():
    docs = documents("services.directory.enabled=false")
    names = [doc["metadata"]["name"] for doc in docs]
    assert names
    assert not [name for name in names if "directory" in name]
    portal = of_kind(docs, "ConfigMap")["enrs-portal"]["data"]
    assert "DIRECTORY_URL" not in portal
    assert portal["IDENTITY_URL"] == "http://enrs-identity:8000"


@needs_helm_render
def test_a_next_service_is_one_values_entry_away():
    docs = documents(
        "services.telemedicine.enabled=true",
        "services.telemedicine.existingSecret=enrs-telemedicine",
        "services.telemedicine.publicUrl=https://tele-avc.enrs.example.fr",
    )
    deployments = of_kind(docs, "Deployment")
    image = deployments["enrs-telemedicine-web"]["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "registry.example.fr/enrs/telemedicine:0.1.0"
    assert "enrs-telemedicine-worker" in deployments
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@needs_helm_render
def test_the_network_policy_lets_web_pods_be_reached_from_the_ingress_controller(rendered):
    policy = of_kind(rendered, "NetworkPolicy")["enrs-identity"]
    sources = policy["spec"]["ingress"][0]["from"]
    namespaces = [
        source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for source in sources
        if "namespaceSelector" in source
    ]
    assert "ingress-nginx" in namespaces
    egress_ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert {53, 5432, 9092, 8000} <= egress_ports


def test_the_compose_file_runs_the_directory_beside_identity_and_the_portal():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"directory", "directory-worker"} <= set(services)
    assert services["directory-worker"]["command"] == ["worker"]
    assert services["portal"]["environment"]["DIRECTORY_URL"] == "http://directory:8000"
    init = (ROOT / "deploy" / "postgres-init.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE directory" in init


@needs_helm_render
def test_identity_rotates_its_signing_keys_on_a_schedule(rendered):
    cron = of_kind(rendered, "CronJob")["enrs-identity-key-rotation"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["flask", "--app", "identity", "keys", "rotate"]
    docs = documents("services.identity.keyRotation.enabled=false")
    assert of_kind(docs, "CronJob") == {}


def run_entrypoint(tmp_path, *args, **env):
    """deploy/entrypoint.sh with stand-ins for flask and gunicorn; the commands it ran, in order."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls.log"
    for program in ("flask", "gunicorn"):
        stand_in = bin_dir / program
        stand_in.write_text(f'#!/bin/sh\necho "{program} $*" >> "{calls}"\n', encoding="utf-8")
        stand_in.chmod(0o755)
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SERVICE": "identity",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        **env,
    }
    subprocess.run(
        ["sh", str(ROOT / "deploy" / "entrypoint.sh"), *args],
        env=environment,
        check=True,
        timeout=30,
    )
    return calls.read_text(encoding="utf-8").splitlines()


def test_the_web_entrypoint_migrates_before_gunicorn_by_default(tmp_path):
    calls = run_entrypoint(tmp_path, "web")
    assert calls[0] == "flask --app identity migrate"
    assert calls[1].startswith(
        "gunicorn --config /app/deploy/gunicorn.conf.py identity:create_app()"
    )


def test_the_web_entrypoint_leaves_migrations_to_the_job_when_told(tmp_path):
    calls = run_entrypoint(tmp_path, "web", MIGRATE_AT_START="false")
    assert [call.split()[0] for call in calls] == ["gunicorn"]
    assert (tmp_path / "prometheus").is_dir()
