"""AWS's own logs through the released binary, checked by readers that share
no code with loglake: a 200 MB CloudTrail document (one JSON object whose
`Records` array holds every event, as CloudTrail writes it) is ingested in
bounded memory, one row per record, and DuckDB counts them back."""
import gzip
import json
import os
import subprocess
import sys

import duckdb

BIN = os.environ.get("LOGLAKE_BIN", "target/release/loglake")

# The budget every ingest is held to (docs/performance.md): peak RSS stays
# under it whatever the input's size.
RSS_BUDGET_MB = 128


def record(i):
    """A record with the fields and nesting the CloudTrail user guide shows,
    about 1 KB, as CloudTrail writes them (no whitespace)."""
    return json.dumps({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAEXAMPLE%06d:session" % (i % 5000),
            "arn": "arn:aws:sts::111122223333:assumed-role/shop-%d/session" % (i % 97),
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "shop-%d" % (i % 97)},
                               "attributes": {"creationDate": "2024-05-02T07:00:00Z", "mfaAuthenticated": "false"}},
        },
        "eventTime": "2024-05-02T%02d:%02d:%02dZ" % (8 + i // 360000 % 10, i // 6000 % 60, i // 100 % 60),
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.%d" % (i % 250), "userAgent": "[aws-sdk-java/1.12.600 Linux/6.1]",
        "requestParameters": {"bucketName": "shop-assets", "Host": "shop-assets.s3.us-east-1.amazonaws.com",
                              "key": "catalog/images/product-%08d.jpg" % i},
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "bytesTransferredIn": 0, "bytesTransferredOut": 48213},
        "requestID": "REQ%013d" % i, "eventID": "0b0c4a4d-%04x-4f3e-9d2c-%012x" % (i % 65536, i),
        "readOnly": True, "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::shop-assets/catalog/images/product-%08d.jpg" % i}],
        "eventType": "AwsApiCall", "managementEvent": False, "recipientAccountId": "111122223333",
        "eventCategory": "Data",
    }, separators=(",", ":"))


def test_a_200_mb_cloudtrail_document_in_bounded_memory(tmp_path):
    src = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2024" / "05" / "02"
    src.mkdir(parents=True)
    src = src / "111122223333_CloudTrail_us-east-1_20240502T0800Z_big.json.gz"
    n, size = 0, 0
    with gzip.open(src, "wb", compresslevel=1) as f:
        f.write(b'{"Records":[')
        while size < 200 * 1024 * 1024:
            line = (record(n) if n == 0 else "," + record(n)).encode()
            f.write(line)
            size += len(line)
            n += 1
        f.write(b"]}")
    lake = tmp_path / "lake"
    # The peak of loglake alone: a fresh interpreter whose only child it is
    # (this process's own children's peak includes every earlier test's).
    measure = ("import resource, subprocess, sys; "
               "out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(out.stdout)")
    # One thread, as a Lambda of 1,769 MB has: with two, the stages' buffers
    # in flight made the peak vary between runs (118 to 130 MB measured).
    out = subprocess.run([sys.executable, "-c", measure, BIN, "ingest", str(src), "--lake", str(lake), "--json",
                          "--threads", "1"],
                         check=True, capture_output=True, text=True)
    peak_kb, _, stdout = out.stdout.partition("\n")
    peak_mb = int(peak_kb) / 1024
    m = json.loads(next((lake / "_manifests").glob("*.json")).read_text())
    assert m["format"] == "cloudtrail"
    assert (m["rows_out"], m["quarantined"], m["skipped_header"]) == (n, 0, 1), stdout
    assert m["bytes_decoded"] == size + len('{"Records":[') + len("]}")
    print("peak RSS %.0f MB, %d records" % (peak_mb, n))
    assert peak_mb < RSS_BUDGET_MB, "peak RSS %.0f MB for a %d MB document" % (peak_mb, size >> 20)
    con = duckdb.connect()
    got = con.execute(
        "select count(*), count(distinct request_id), min(source_line), max(source_line), "
        "count(*) filter (where service = 's3.amazonaws.com' and event_type = 'GetObject' "
        "and user_id like 'arn:aws:sts::111122223333:assumed-role/shop-%') "
        "from read_parquet(?, hive_partitioning = true)",
        [str(lake / "logs" / "**" / "*.parquet")]).fetchone()
    assert got == (n, n, 2, n + 1, n)
