"""Runs iamtrim's Athena SQL on DuckDB, over the CloudTrail log files the local reader reads.

Usage: duckdb_cloudtrail.py LOG_DIR SQL_FILE TABLE
Prints one JSON object: {"header": [...], "rows": [[cell or null, ...], ...]}, every cell as the
text Athena's GetQueryResults would give (booleans as true/false).

The table TABLE is a view with the columns (and the lower-case names) of the CloudTrail table the
console and the AWS documentation create, plus both partition layouts derived from each file's
place in the S3 delivery layout: `account`, `region`, `timestamp` (projection, yyyy/MM/dd) and
`year`, `month`, `day` (Hive style). Only `.json` and `.json.gz` files are read, as the local
reader does. The one dialect translation is FUNCTIONS below: function names only.
"""

import glob
import json
import re
import sys

import duckdb

# Athena (Trino) function name -> DuckDB function name. Nothing else is translated.
FUNCTIONS = {
    "element_at": "list_extract",
}

LAYOUT = r"AWSLogs/(o-[a-z0-9]+/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/([0-9]{4})/([0-9]{2})/([0-9]{2})/"


def translate(sql: str) -> str:
    """Renames FUNCTIONS outside string literals and quoted identifiers."""
    out, i = [], 0
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, FUNCTIONS)) + r")\s*\(")
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < len(sql):
                if sql[j] == c:
                    if j + 1 < len(sql) and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1])
            i = j + 1
            continue
        m = pattern.match(sql, i)
        if m and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            out.append(FUNCTIONS[m.group(1)] + "(")
            i = m.end()
            continue
        out.append(c)
        i += 1
    return "".join(out)


def field(path: str) -> str:
    return f"r->>'$.{path}'"


def view(con, log_dir: str, table: str) -> None:
    db, _, name = table.rpartition(".")
    if db:
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{db}"')
    target = f'"{db}"."{name}"' if db else f'"{name}"'
    ui = "userIdentity"
    issuer = f"{ui}.sessionContext.sessionIssuer"
    files = sorted(
        f
        for pattern in ("**/*.json", "**/*.json.gz")
        for f in glob.glob(f"{log_dir}/{pattern}", recursive=True)
        if "CloudTrail-Digest" not in f and "CloudTrail-Insight" not in f
    )
    con.execute(
        f"""
        CREATE VIEW {target} AS
        SELECT
          {field('eventVersion')} AS eventversion,
          struct_pack(
            type := {field(ui + '.type')},
            principalid := {field(ui + '.principalId')},
            arn := {field(ui + '.arn')},
            accountid := {field(ui + '.accountId')},
            invokedby := {field(ui + '.invokedBy')},
            accesskeyid := {field(ui + '.accessKeyId')},
            username := {field(ui + '.userName')},
            sessioncontext := struct_pack(
              attributes := struct_pack(
                mfaauthenticated := {field(ui + '.sessionContext.attributes.mfaAuthenticated')},
                creationdate := {field(ui + '.sessionContext.attributes.creationDate')}
              ),
              sessionissuer := struct_pack(
                type := {field(issuer + '.type')},
                principalid := {field(issuer + '.principalId')},
                arn := {field(issuer + '.arn')},
                accountid := {field(issuer + '.accountId')},
                username := {field(issuer + '.userName')}
              )
            )
          ) AS useridentity,
          {field('eventTime')} AS eventtime,
          {field('eventSource')} AS eventsource,
          {field('eventName')} AS eventname,
          {field('awsRegion')} AS awsregion,
          {field('sourceIPAddress')} AS sourceipaddress,
          {field('userAgent')} AS useragent,
          {field('errorCode')} AS errorcode,
          {field('errorMessage')} AS errormessage,
          CAST(r->'requestParameters' AS VARCHAR) AS requestparameters,
          CAST(r->'responseElements' AS VARCHAR) AS responseelements,
          CAST(r->'additionalEventData' AS VARCHAR) AS additionaleventdata,
          {field('requestID')} AS requestid,
          {field('eventID')} AS eventid,
          {field('readOnly')} AS readonly,
          from_json(r->'resources', '[{{"ARN":"VARCHAR","accountId":"VARCHAR","type":"VARCHAR"}}]') AS resources,
          {field('eventType')} AS eventtype,
          {field('apiVersion')} AS apiversion,
          {field('recipientAccountId')} AS recipientaccountid,
          {field('sharedEventID')} AS sharedeventid,
          {field('vpcEndpointId')} AS vpcendpointid,
          {field('eventCategory')} AS eventcategory,
          regexp_extract(filename, '{LAYOUT}', 2) AS account,
          regexp_extract(filename, '{LAYOUT}', 3) AS region,
          regexp_extract(filename, '{LAYOUT}', 4) || '/' || regexp_extract(filename, '{LAYOUT}', 5)
            || '/' || regexp_extract(filename, '{LAYOUT}', 6) AS "timestamp",
          regexp_extract(filename, '{LAYOUT}', 4) AS year,
          regexp_extract(filename, '{LAYOUT}', 5) AS month,
          regexp_extract(filename, '{LAYOUT}', 6) AS day
        FROM (
          SELECT unnest(Records) AS r, filename
          FROM read_json({files!r}, columns = {{'Records': 'JSON[]'}}, filename = true,
                         format = 'auto', maximum_object_size = 1073741824)
        )
        """
    )


def cell(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main() -> None:
    log_dir, sql_file, table = sys.argv[1:4]
    with open(sql_file, encoding="utf-8") as f:
        sql = translate(f.read())
    con = duckdb.connect()
    view(con, log_dir, table)
    result = con.execute(sql)
    header = [d[0] for d in result.description]
    rows = [[cell(v) for v in row] for row in result.fetchall()]
    json.dump({"header": header, "rows": rows}, sys.stdout)


if __name__ == "__main__":
    main()
