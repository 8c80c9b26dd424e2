"""What the applied stack promises, checked with boto3 against the moto server: the S3
backend, flowlib_config, network, bucket, table, task role, Batch, EKS, ECR, and that destroy
leaves nothing behind. The deployments' checks (Step Functions, events, the HTTP endpoint, the
scheduled gc) are in apply_checks_deployments.py."""

from __future__ import annotations

import json
from typing import Any

from tests.support.aws_env import boto3_client
from tests.terraform.ci_stack import CI_TFVARS, ENVIRONMENT, NAME, REGION, STATE_BUCKET, STATE_KEY
from tests.terraform.helpers import STACK_OUTPUT_SCHEMA_FILE, TABLE_SCHEMA_FILE


class Clients:
    """boto3 clients on the moto server."""

    def __init__(self, url: str) -> None:
        for service in ("s3", "dynamodb", "iam", "batch", "eks", "ec2", "ecr", "kms", "logs",
                        "apigatewayv2", "lambda", "events", "sqs", "scheduler"):
            setattr(self, service, boto3_client(service, url, REGION))

    s3: Any
    dynamodb: Any
    iam: Any
    batch: Any
    eks: Any
    ec2: Any
    ecr: Any
    kms: Any
    logs: Any
    apigatewayv2: Any
    # "lambda" is a keyword: read with getattr(clients, "lambda")
    events: Any
    sqs: Any
    scheduler: Any


class Session:
    """A boto3-session-shaped access to the test's clients (what the doctor takes)."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients

    def client(self, service: str) -> Any:
        return getattr(self._clients, service)


def document(policy: str | dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import unquote

    return json.loads(unquote(policy)) if isinstance(policy, str) else policy


def tag(resource: dict[str, Any], key: str) -> str | None:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), None)


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def check_state_in_s3_backend(clients: Clients) -> None:
    keys = [o["Key"] for o in clients.s3.list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])]
    assert STATE_KEY in keys, f"state not in the S3 backend: {keys}"
    assert f"{STATE_KEY}.tflock" not in keys, "the S3 lock file outlived the apply"


def check_flowlib_config(config: dict[str, Any]) -> None:
    schema = json.loads(STACK_OUTPUT_SCHEMA_FILE.read_text())
    assert set(config) == set(schema["keys"])
    # Batch and EKS are both on: no key may be null. (Isolated projects are checked in detail
    # in tests/security/test_projects.py; one is applied here for the scheduled gc.)
    nulls = sorted(key for key, value in config.items() if value is None)
    assert not nulls, f"null in flowlib_config with every feature on: {nulls}"
    assert config["schema_version"] == schema["schema_version"]
    assert config["environment"] == ENVIRONMENT
    assert config["region"] == REGION
    assert config["s3_prefix"] == "flowlib"
    assert set(config["batch_job_queues"]) == set(CI_TFVARS["batch_compute_environments"])
    assert config["batch_default_job_queue"] == config["batch_job_queues"]["cpu"]
    assert config["batch_job_role_arn"] == config["task_role_arn"]
    assert config["image"] == f"{config['ecr_repository_url']}:{CI_TFVARS['image_tag']}"
    assert config["kubernetes_namespace"] == "flowlib"
    assert config["kubernetes_service_account"] == "flowlib"


def check_network(clients: Clients, vpc_id: str) -> None:
    ec2 = clients.ec2
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    private = [s for s in subnets if tag(s, "Tier") == "private"]
    assert len({s["AvailabilityZone"] for s in private}) >= 2, "private subnets in < 2 AZs"
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    by_service = {e["ServiceName"].rsplit(".", 1)[-1]: e for e in endpoints["VpcEndpoints"]}
    assert by_service["s3"]["VpcEndpointType"] == "Gateway"
    assert by_service["dynamodb"]["VpcEndpointType"] == "Gateway"
    for service in ("ecr.api", "ecr.dkr", "logs", "sts"):
        name = f"com.amazonaws.{REGION}.{service}"
        found = [e for e in endpoints["VpcEndpoints"] if e["ServiceName"] == name]
        assert found and found[0]["VpcEndpointType"] == "Interface", f"no endpoint for {service}"
    nat = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    assert [n for n in nat["NatGateways"] if n["State"] == "available"], "no NAT gateway"
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])
    assert flow_logs["FlowLogs"], "no flow log on the VPC"
    assert flow_logs["FlowLogs"][0]["LogDestinationType"] == "cloud-watch-logs"


def check_bucket(clients: Clients, config: dict[str, Any], kms_key_arn: str) -> None:
    s3, bucket = clients.s3, config["s3_bucket"]
    assert config["s3_kms_key_arn"] == kms_key_arn
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == kms_key_arn
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(
        block[k]
        for k in (
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        )
    ), block
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership[0]["ObjectOwnership"] == "BucketOwnerEnforced"
    statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert any(
        s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
        and s["Action"] == "s3:*"
        for s in denies
    ), "no deny of non-TLS access"
    sse_denies = [
        s
        for s in denies
        if s["Action"] == "s3:PutObject"
        and "s3:x-amz-server-side-encryption" in s["Condition"].get("StringNotEquals", {})
    ]
    assert sse_denies, "no deny of puts that are not SSE-KMS"
    assert (
        sse_denies[0]["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption"]
        == "aws:kms"
    )
    key_denies = [
        s
        for s in denies
        if "s3:x-amz-server-side-encryption-aws-kms-key-id"
        in s["Condition"].get("StringNotEquals", {})
    ]
    assert key_denies, "no deny of puts with another KMS key"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert any("NoncurrentVersionExpiration" in r for r in rules)
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)
    # No object probe: moto answers 403 to every put once any Deny statement with a
    # condition is present, so it cannot show which puts the policy lets through.


def check_table(clients: Clients, config: dict[str, Any], kms_key_arn: str) -> None:
    schema = json.loads(TABLE_SCHEMA_FILE.read_text())
    table = clients.dynamodb.describe_table(TableName=config["dynamodb_table"])["Table"]

    def key_schema(spec: dict[str, Any]) -> list[dict[str, str]]:
        keys = [{"AttributeName": spec["hash_key"]["name"], "KeyType": "HASH"}]
        if spec.get("range_key"):
            keys.append({"AttributeName": spec["range_key"]["name"], "KeyType": "RANGE"})
        return keys

    assert table["KeySchema"] == key_schema(schema)
    assert table["BillingModeSummary"]["BillingMode"] == schema["billing_mode"]
    expected_gsis = {
        g["name"]: (key_schema(g), g.get("projection_type", "ALL"))
        for g in schema.get("global_secondary_indexes", [])
    }
    live_gsis = {
        g["IndexName"]: (g["KeySchema"], g["Projection"]["ProjectionType"])
        for g in table.get("GlobalSecondaryIndexes", [])
    }
    assert live_gsis == expected_gsis
    attributes = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    declared = {schema["hash_key"]["name"]: schema["hash_key"]["type"]}
    if schema.get("range_key"):
        declared[schema["range_key"]["name"]] = schema["range_key"]["type"]
    for g in schema.get("global_secondary_indexes", []):
        declared[g["hash_key"]["name"]] = g["hash_key"]["type"]
        if g.get("range_key"):
            declared[g["range_key"]["name"]] = g["range_key"]["type"]
    assert attributes == declared
    sse = table["SSEDescription"]
    assert sse["Status"] == "ENABLED" and sse["SSEType"] == "KMS"
    assert sse["KMSMasterKeyArn"] == kms_key_arn
    backups = clients.dynamodb.describe_continuous_backups(TableName=config["dynamodb_table"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def check_task_role(
    clients: Clients, config: dict[str, Any], outputs: dict[str, Any], kms_key_arn: str
) -> None:
    iam = clients.iam
    role_name = config["task_role_arn"].rsplit("/", 1)[-1]
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    principals = {
        s["Principal"]["Service"] for s in trust["Statement"] if "Service" in s["Principal"]
    }
    assert principals == {"ecs-tasks.amazonaws.com", "pods.eks.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    assert sorted(names) == ["flowlib-data", "flowlib-put-events", "flowlib-secrets"]
    check_task_secrets_policy(iam, role_name, config["environment"], kms_key_arn)
    document = iam.get_role_policy(RoleName=role_name, PolicyName="flowlib-data")[
        "PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    bucket_arn = outputs["s3_bucket_arn"]["value"]
    table_arn = outputs["dynamodb_table_arn"]["value"]
    allowed_resources = {
        bucket_arn,
        f"{bucket_arn}/{config['s3_prefix']}/*",
        table_arn,
        f"{table_arn}/index/*",
        kms_key_arn,
    }
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert set(resources) <= allowed_resources, f"task role reaches {resources}"
        assert not any("*" in action for action in actions), f"wildcard action in {actions}"
        if bucket_arn in resources:  # listing the bucket only under the prefix
            assert statement["Condition"]["StringLike"]["s3:prefix"]
        if kms_key_arn in resources:
            assert statement["Condition"]["StringEquals"]["kms:ViaService"]
    covered = {r for s in document["Statement"] for r in as_list(s["Resource"])}
    assert covered == allowed_resources


def check_task_secrets_policy(iam: Any, role_name: str, environment: str,
                               kms_key_arn: str) -> None:
    """@secrets: the environment's own prefix in both stores, its key through them only."""
    document = iam.get_role_policy(RoleName=role_name, PolicyName="flowlib-secrets")[
        "PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    resources = {r for s in document["Statement"] for r in as_list(s["Resource"])}
    assert {r.split(":", 5)[-1] for r in resources if ":kms:" not in r} == {
        f"secret:flowlib/{environment}/*", f"parameter/flowlib/{environment}/*"}
    assert {r for r in resources if ":kms:" in r} == {kms_key_arn}


def check_batch(clients: Clients, config: dict[str, Any]) -> None:
    batch = clients.batch
    queues = batch.describe_job_queues(jobQueues=list(config["batch_job_queues"].values()))
    assert len(queues["jobQueues"]) == len(config["batch_job_queues"])
    environment_arns = []
    for queue in queues["jobQueues"]:
        assert queue["state"] == "ENABLED", queue
        assert queue["status"] == "VALID", queue
        environment_arns += [o["computeEnvironment"] for o in queue["computeEnvironmentOrder"]]
    environments = batch.describe_compute_environments(computeEnvironments=environment_arns)
    assert len(environments["computeEnvironments"]) == len(CI_TFVARS["batch_compute_environments"])
    launch_template_ids = set()
    for environment in environments["computeEnvironments"]:
        assert environment["status"] == "VALID", environment
        assert environment["state"] == "ENABLED", environment
        resources = environment["computeResources"]
        assert resources["minvCpus"] == 0
        assert resources["instanceRole"].split(":")[-1].startswith("instance-profile/")
        launch_template_ids.add(resources["launchTemplate"]["launchTemplateId"])
    assert len(launch_template_ids) == 1
    check_imdsv2(clients, launch_template_ids.pop())
    definitions = batch.describe_job_definitions(jobDefinitionName=f"{NAME}-base", status="ACTIVE")
    container = definitions["jobDefinitions"][0]["containerProperties"]
    assert container["jobRoleArn"] == config["task_role_arn"]
    assert container["executionRoleArn"] == config["batch_execution_role_arn"]


def check_imdsv2(clients: Clients, launch_template_id: str) -> None:
    versions = clients.ec2.describe_launch_template_versions(
        LaunchTemplateId=launch_template_id, Versions=["$Latest"]
    )["LaunchTemplateVersions"]
    data = versions[0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required", data.get("MetadataOptions")
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] in (True, "true")


def check_eks(clients: Clients, config: dict[str, Any], kms_key_arn: str) -> None:
    eks = clients.eks
    cluster = eks.describe_cluster(name=config["eks_cluster_name"])["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["endpoint"] == config["eks_cluster_endpoint"]
    encryption = cluster["encryptionConfig"][0]
    assert encryption["resources"] == ["secrets"]
    assert encryption["provider"]["keyArn"] == kms_key_arn
    enabled = {
        kind
        for entry in cluster["logging"]["clusterLogging"]
        if entry["enabled"]
        for kind in entry["types"]
    }
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    vpc = cluster["resourcesVpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    groups = eks.list_nodegroups(clusterName=cluster["name"])["nodegroups"]
    assert set(groups) == set(CI_TFVARS["eks_node_groups"])
    for group in groups:
        node_group = eks.describe_nodegroup(clusterName=cluster["name"], nodegroupName=group)
        assert node_group["nodegroup"]["status"] == "ACTIVE"
        check_imdsv2(clients, node_group["nodegroup"]["launchTemplate"]["id"])


def check_ecr(clients: Clients, config: dict[str, Any], kms_key_arn: str) -> None:
    name = config["ecr_repository_url"].split("/", 1)[1]
    repository = clients.ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    assert repository["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert repository["encryptionConfiguration"]["kmsKey"] == kms_key_arn
    assert clients.ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]


def check_nothing_left(clients: Clients, config: dict[str, Any]) -> None:
    buckets = {b["Name"] for b in clients.s3.list_buckets()["Buckets"]}
    assert buckets == {STATE_BUCKET}, f"buckets left: {buckets}"
    assert clients.dynamodb.list_tables()["TableNames"] == []
    roles = [r["RoleName"] for r in clients.iam.list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith(NAME)], f"roles left: {roles}"
    profiles = clients.iam.list_instance_profiles()["InstanceProfiles"]
    assert not [p for p in profiles if p["InstanceProfileName"].startswith(NAME)]
    queues = clients.batch.describe_job_queues()["jobQueues"]
    assert not [q for q in queues if q["status"] != "DELETED"], f"job queues left: {queues}"
    environments = clients.batch.describe_compute_environments()["computeEnvironments"]
    assert not [e for e in environments if e["status"] != "DELETED"], "compute envs left"
    assert clients.eks.list_clusters()["clusters"] == []
    buses = [b["Name"] for b in clients.events.list_event_buses()["EventBuses"]]
    assert buses == ["default"], f"event buses left: {buses}"
    assert clients.scheduler.list_schedules()["Schedules"] == [], "gc schedule left"
    assert clients.ecr.describe_repositories()["repositories"] == []
    assert clients.apigatewayv2.get_apis()["Items"] == [], "HTTP API left"
    assert getattr(clients, "lambda").list_functions()["Functions"] == [], "function left"
    vpcs = clients.ec2.describe_vpcs()["Vpcs"]
    assert [v for v in vpcs if not v.get("IsDefault")] == [], "VPC left"
    groups = clients.logs.describe_log_groups()["logGroups"]
    assert not [g for g in groups if NAME in g["logGroupName"]], f"log groups left: {groups}"
    # KMS keys cannot be deleted at once: the stack's key must be scheduled for deletion.
    ours = [
        metadata
        for metadata in (
            clients.kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            for key in clients.kms.list_keys()["Keys"]
        )
        if metadata.get("Description", "").startswith(f"{NAME}:")
    ]
    assert len(ours) == 1, f"expected the stack's one KMS key, found {ours}"
    assert ours[0]["KeyState"] == "PendingDeletion", ours[0]
    aliases = [a["AliasName"] for a in clients.kms.list_aliases()["Aliases"]]
    assert f"alias/{NAME}" not in aliases
