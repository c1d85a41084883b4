//! An in-process Athena and CloudTrail Lake query emulator speaking the real JSON 1.1 wire
//! protocol (`X-Amz-Target: AmazonAthena.*` and `CloudTrail_20131101.*`).
//!
//! moto's Athena answers every query at once with one page and no bytes scanned, and moto has no
//! CloudTrail Lake queries; this serves what the tests need beyond that: queries that stay RUNNING
//! for N polls (or until stopped), paginated results, bytes scanned, FAILED queries with a reason,
//! queries cancelled elsewhere, scripted faults per operation (throttling, access denied, ...), and
//! `StopQueryExecution` / `CancelQuery`. Every call is recorded. The real `aws-sdk-athena` and
//! `aws-sdk-cloudtrail` clients talk to it through `endpoint_url`.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

/// How a query ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SUCCEEDED / FINISHED with the scripted rows.
    Succeed,
    /// FAILED with this reason.
    Fail(String),
    /// CANCELLED by someone else.
    CancelledElsewhere,
}

/// A scripted error for the next call of an operation: HTTP status, `__type`, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Fault {
    /// `ThrottlingException` (HTTP 400), which both services use.
    pub fn throttle() -> Fault {
        Fault {
            status: 400,
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
        }
    }
}

/// One recorded call: operation name (`StartQueryExecution`, `DescribeQuery`, ...) and its body.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    pub body: Value,
}

#[derive(Debug)]
struct Query {
    polls_left: u32,
    state: &'static str,
}

#[derive(Debug)]
struct State {
    /// Column names, then rows of cells (`None` = NULL).
    header: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    page_size: usize,
    /// Polls a query stays RUNNING; `u32::MAX` until stopped.
    running_polls: u32,
    outcome: Outcome,
    bytes_scanned: i64,
    faults: HashMap<String, VecDeque<Fault>>,
    queries: HashMap<String, Query>,
    calls: Vec<Call>,
    next_id: u32,
}

/// The running emulator; lives as long as the test.
#[derive(Clone)]
pub struct QueryEmulator {
    url: String,
    state: Arc<Mutex<State>>,
}

impl QueryEmulator {
    /// Starts the emulator on a free loopback port.
    pub fn start() -> QueryEmulator {
        let state = Arc::new(Mutex::new(State {
            header: Vec::new(),
            rows: Vec::new(),
            page_size: 1000,
            running_polls: 1,
            outcome: Outcome::Succeed,
            bytes_scanned: 0,
            faults: HashMap::new(),
            queries: HashMap::new(),
            calls: Vec::new(),
            next_id: 1,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve_connection(stream, state));
            }
        });
        QueryEmulator { url, state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The endpoint URL for the SDK.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The result: column names and rows.
    pub fn set_result(&self, header: &[&str], rows: Vec<Vec<Option<String>>>) {
        let mut s = self.lock();
        s.header = header.iter().map(|h| h.to_string()).collect();
        s.rows = rows;
    }

    /// Rows per result page (Athena's first page also holds the header row).
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// Polls a query answers RUNNING before it ends; `u32::MAX` keeps it running until stopped.
    pub fn set_running_polls(&self, n: u32) {
        self.lock().running_polls = n;
    }

    /// How queries end.
    pub fn set_outcome(&self, outcome: Outcome) {
        self.lock().outcome = outcome;
    }

    /// Bytes scanned reported by the statistics.
    pub fn set_bytes_scanned(&self, n: i64) {
        self.lock().bytes_scanned = n;
    }

    /// Fails the next call of `op` with `fault` (queued: inject twice to fail twice).
    pub fn inject(&self, op: &str, fault: Fault) {
        self.lock()
            .faults
            .entry(op.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The operations called, in order.
    pub fn ops(&self) -> Vec<String> {
        self.lock().calls.iter().map(|c| c.op.clone()).collect()
    }
}

fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut target = String::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let op = target.rsplit('.').next().unwrap_or("").to_string();
        let (status, response) = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            handle(&mut s, &op, body)
        };
        let text = response.to_string();
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n",
            text.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(text.as_bytes()).is_err()
        {
            return;
        }
    }
}

fn handle(s: &mut State, op: &str, body: Value) -> (u16, Value) {
    s.calls.push(Call {
        op: op.to_string(),
        body: body.clone(),
    });
    if let Some(fault) = s.faults.get_mut(op).and_then(VecDeque::pop_front) {
        return (
            fault.status,
            json!({"__type": fault.code, "message": fault.message, "Message": fault.message}),
        );
    }
    let id_of = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match op {
        "StartQueryExecution" | "StartQuery" => {
            let id = format!("q-{:04}", s.next_id);
            s.next_id += 1;
            let polls_left = s.running_polls;
            s.queries.insert(
                id.clone(),
                Query {
                    polls_left,
                    state: "RUNNING",
                },
            );
            if op == "StartQuery" {
                (200, json!({"QueryId": id}))
            } else {
                (200, json!({"QueryExecutionId": id}))
            }
        }
        "GetQueryExecution" | "DescribeQuery" => {
            let lake = op == "DescribeQuery";
            let id = id_of(if lake { "QueryId" } else { "QueryExecutionId" });
            let outcome = s.outcome.clone();
            let bytes = s.bytes_scanned;
            let Some(q) = s.queries.get_mut(&id) else {
                return (
                    400,
                    json!({"__type": "InvalidRequestException", "message": "no such query"}),
                );
            };
            if q.state == "RUNNING" {
                if q.polls_left == 0 {
                    q.state = match outcome {
                        Outcome::Succeed => "SUCCEEDED",
                        Outcome::Fail(_) => "FAILED",
                        Outcome::CancelledElsewhere => "CANCELLED",
                    };
                } else if q.polls_left != u32::MAX {
                    q.polls_left -= 1;
                }
            }
            let reason = match &outcome {
                Outcome::Fail(r) if q.state == "FAILED" => Some(r.clone()),
                _ => None,
            };
            if lake {
                let status = match q.state {
                    "SUCCEEDED" => "FINISHED",
                    other => other,
                };
                let mut out = json!({"QueryId": id, "QueryString": "", "QueryStatus": status,
                    "QueryStatistics": {"BytesScanned": bytes, "EventsMatched": 0, "EventsScanned": 0}});
                if let Some(r) = reason {
                    out["ErrorMessage"] = json!(r);
                }
                (200, out)
            } else {
                let mut status = json!({"State": q.state});
                if let Some(r) = reason {
                    status["StateChangeReason"] = json!(r);
                    status["AthenaError"] = json!({"ErrorCategory": 2, "ErrorType": 1006, "Retryable": false, "ErrorMessage": r});
                }
                (
                    200,
                    json!({"QueryExecution": {"QueryExecutionId": id, "Query": "", "Status": status,
                        "Statistics": {"DataScannedInBytes": bytes}}}),
                )
            }
        }
        "GetQueryResults" => {
            let lake = body.get("QueryId").is_some();
            let start: usize = body
                .get("NextToken")
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page = s.page_size;
            if lake {
                let end = (start + page).min(s.rows.len());
                let rows: Vec<Value> = s.rows[start..end]
                    .iter()
                    .map(|row| {
                        Value::Array(
                            s.header
                                .iter()
                                .zip(row)
                                .filter_map(|(h, v)| v.as_ref().map(|v| json!({ h: v })))
                                .collect(),
                        )
                    })
                    .collect();
                let mut out = json!({"QueryStatus": "FINISHED", "QueryResultRows": rows});
                if end < s.rows.len() {
                    out["NextToken"] = json!(end.to_string());
                }
                (200, out)
            } else {
                // Athena: the header is row 0 of the whole result.
                let mut all: Vec<Vec<Option<String>>> =
                    vec![s.header.iter().map(|h| Some(h.clone())).collect()];
                all.extend(s.rows.iter().cloned());
                let end = (start + page).min(all.len());
                let rows: Vec<Value> = all[start..end]
                    .iter()
                    .map(|row| {
                        let data: Vec<Value> = row
                            .iter()
                            .map(|v| match v {
                                Some(v) => json!({"VarCharValue": v}),
                                None => json!({}),
                            })
                            .collect();
                        json!({"Data": data})
                    })
                    .collect();
                let mut out =
                    json!({"ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": []}}});
                if end < all.len() {
                    out["NextToken"] = json!(end.to_string());
                }
                (200, out)
            }
        }
        "StopQueryExecution" | "CancelQuery" => {
            let id = id_of(if op == "CancelQuery" {
                "QueryId"
            } else {
                "QueryExecutionId"
            });
            if let Some(q) = s.queries.get_mut(&id) {
                q.state = "CANCELLED";
            }
            if op == "CancelQuery" {
                (200, json!({"QueryId": id, "QueryStatus": "CANCELLED"}))
            } else {
                (200, json!({}))
            }
        }
        _ => (
            400,
            json!({"__type": "UnknownOperationException", "message": op}),
        ),
    }
}
