//! An in-process IAM Access Analyzer emulator speaking the real restJson1 wire protocol.
//!
//! moto has no Access Analyzer, so this is a tiny HTTP/1.1 server on `127.0.0.1:0` (std threads, keep-alive)
//! that the real `aws-sdk-accessanalyzer` client talks to through `endpoint_url`. It implements the four
//! policy-generation operations with the real quotas (one job in progress per account and region, a daily
//! quota that counts cancelled jobs), jobs that take N polls, scripted faults (throttling with
//! `Retry-After`, quota, conflict, access denied, expired token), FAILED jobs with `jobError` codes,
//! `isComplete=false`, chunked `generatedPolicies`, and policies derived from CloudTrail fixture files
//! (eventSource/eventName mapped naively to `service:Action`). Every call is recorded.

#![allow(dead_code)]

use iamtrim::usage::cache::{parse_rfc3339, rfc3339};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The trail seeded jobs read unless told otherwise.
pub const DEFAULT_TRAIL: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org-trail";

/// The four operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Start,
    Get,
    List,
    Cancel,
}

/// A scripted error for the next call of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 ThrottlingException with `Retry-After` (and `retryAfterSeconds` semantics).
    Throttle { retry_after: u64 },
    /// 402 ServiceQuotaExceededException.
    Quota,
    /// 409 ConflictException.
    Conflict,
    /// 403 AccessDeniedException.
    AccessDenied,
    /// 403 ExpiredTokenException.
    ExpiredToken,
}

/// How a principal's job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// SUCCEEDED with the policy derived from the CloudTrail fixtures.
    Succeed,
    /// FAILED with this `jobError.code`.
    Fail(String),
}

/// One recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: Op,
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: Value,
    pub status: u16,
    pub at: Instant,
}

#[derive(Debug, Clone)]
struct Job {
    id: String,
    principal_arn: String,
    status: &'static str,
    started_on: SystemTime,
    completed_on: Option<SystemTime>,
    polls_left: u32,
    client_token: Option<String>,
    start_time: String,
    end_time: String,
    trail_arn: String,
    regions: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    jobs: Vec<Job>,
    calls: Vec<Call>,
    faults: HashMap<Op, VecDeque<Fault>>,
    outcomes: HashMap<String, JobOutcome>,
    incomplete: BTreeSet<String>,
    service_level_only: BTreeSet<String>,
    events: Vec<Value>,
    next_id: u64,
    polls_to_finish: u32,
    daily_quota: u32,
    chunk_size: usize,
    page_size: usize,
    denied_keys: BTreeSet<String>,
}

/// The running emulator; the server thread lives as long as the process.
#[derive(Clone)]
pub struct Emulator {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Emulator {
    /// Starts a server with CloudTrail events from `cloudtrail_dir` (every `*.json` with `Records`).
    pub fn start(cloudtrail_dir: &Path) -> Emulator {
        let mut events = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(cloudtrail_dir)
            .expect("fixture dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
        {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(&f).expect("read fixture"))
                    .expect("fixture json");
            events.extend(v["Records"].as_array().cloned().unwrap_or_default());
        }
        let state = Arc::new(Mutex::new(State {
            events,
            polls_to_finish: 2,
            daily_quota: 50,
            chunk_size: usize::MAX,
            page_size: 50,
            ..State::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve_connection(stream, state));
            }
        });
        Emulator { url, state }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Jobs take this many `GetGeneratedPolicy` polls to finish (0 = done at once).
    pub fn set_polls_to_finish(&self, n: u32) {
        self.lock().polls_to_finish = n;
    }

    /// Jobs already running finish after at most `n` more polls.
    pub fn hurry_running_jobs(&self, n: u32) {
        for job in &mut self.lock().jobs {
            job.polls_left = job.polls_left.min(n);
        }
    }

    pub fn set_daily_quota(&self, n: u32) {
        self.lock().daily_quota = n;
    }

    /// Split generated policies into chunks of this many actions.
    pub fn set_chunk_size(&self, n: usize) {
        self.lock().chunk_size = n.max(1);
    }

    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// Queue a fault for the next call of `op`.
    pub fn inject(&self, op: Op, fault: Fault) {
        self.lock().faults.entry(op).or_default().push_back(fault);
    }

    pub fn set_outcome(&self, principal_arn: &str, outcome: JobOutcome) {
        self.lock()
            .outcomes
            .insert(principal_arn.to_string(), outcome);
    }

    /// Jobs for this principal report `isComplete: false`.
    pub fn set_incomplete(&self, principal_arn: &str) {
        self.lock().incomplete.insert(principal_arn.to_string());
    }

    /// This service is known only from last-accessed data: the template says `svc:${Action}`.
    pub fn set_service_level_only(&self, service: &str) {
        self.lock().service_level_only.insert(service.to_string());
    }

    /// Requests signed with this access key id get AccessDeniedException.
    pub fn deny_access_key(&self, key: &str) {
        self.lock().denied_keys.insert(key.to_string());
    }

    /// Adds a job started `ago` earlier by someone else, in `status`, needing `polls` more polls if running,
    /// over the default trail (`org-trail`, `us-east-1`, 90 days).
    pub fn seed_job(
        &self,
        principal_arn: &str,
        status: &'static str,
        ago: Duration,
        polls: u32,
    ) -> String {
        self.seed_job_over(
            principal_arn,
            status,
            ago,
            polls,
            DEFAULT_TRAIL,
            &["us-east-1"],
            90,
        )
    }

    /// [`Emulator::seed_job`] over a given trail, regions and window length.
    #[allow(clippy::too_many_arguments)]
    pub fn seed_job_over(
        &self,
        principal_arn: &str,
        status: &'static str,
        ago: Duration,
        polls: u32,
        trail_arn: &str,
        regions: &[&str],
        days: u64,
    ) -> String {
        let mut s = self.lock();
        s.next_id += 1;
        let id = format!("seeded-{:04}", s.next_id);
        let started_on = SystemTime::now() - ago;
        s.jobs.push(Job {
            id: id.clone(),
            principal_arn: principal_arn.to_string(),
            status,
            started_on,
            completed_on: (status != "IN_PROGRESS").then_some(started_on),
            polls_left: polls,
            client_token: None,
            start_time: rfc3339(started_on - Duration::from_secs(days * 86400)),
            end_time: rfc3339(started_on),
            trail_arn: trail_arn.to_string(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
        });
        id
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn count(&self, op: Op) -> usize {
        self.lock().calls.iter().filter(|c| c.op == op).count()
    }

    /// StartPolicyGeneration calls that created a job.
    pub fn jobs_created(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.op == Op::Start && c.status == 200)
            .count()
    }

    /// Calls the service refused because of a quota or a running job (a well-behaved client never causes these).
    pub fn quota_refusals(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.op == Op::Start && matches!(c.status, 402 | 409))
            .count()
    }

    pub fn job_status(&self, job_id: &str) -> Option<&'static str> {
        self.lock()
            .jobs
            .iter()
            .find(|j| j.id == job_id)
            .map(|j| j.status)
    }

    pub fn job_ids(&self) -> Vec<String> {
        self.lock().jobs.iter().map(|j| j.id.clone()).collect()
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Response {
    fn ok(body: Value) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }

    fn error(status: u16, code: &str, body: Value) -> Response {
        Response {
            status,
            headers: vec![("x-amzn-ErrorType".into(), code.into())],
            body,
        }
    }
}

fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let response = handle(&state, request);
        let body = response.body.to_string();
        let reason = match response.status {
            200 => "OK",
            400 => "Bad Request",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            429 => "Too Many Requests",
            _ => "Error",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nx-amzn-RequestId: emu-{}\r\n",
            response.status,
            body.len(),
            std::process::id()
        );
        for (k, v) in &response.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(body.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target, HashMap::new()),
    };
    Some(Request {
        method,
        path: percent_decode(&path),
        query,
        headers,
        body,
    })
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(state: &Arc<Mutex<State>>, req: Request) -> Response {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let op = match (req.method.as_str(), req.path.as_str()) {
        ("PUT", "/policy/generation") => Some(Op::Start),
        ("GET", "/policy/generation") => Some(Op::List),
        ("GET", p) if p.starts_with("/policy/generation/") => Some(Op::Get),
        ("PUT", p) if p.starts_with("/policy/generation/") => Some(Op::Cancel),
        _ => None,
    };
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let response = match op {
        None => Response::error(
            404,
            "UnknownOperationException",
            json!({"message": "unknown operation"}),
        ),
        Some(op) => dispatch(&mut s, op, &req, &body),
    };
    if let Some(op) = op {
        s.calls.push(Call {
            op,
            path: req.path.clone(),
            query: req.query.clone(),
            body,
            status: response.status,
            at: Instant::now(),
        });
    }
    response
}

fn dispatch(s: &mut State, op: Op, req: &Request, body: &Value) -> Response {
    // SigV4 is not verified, only its presence and the access key id it names.
    let Some(auth) = req.headers.get("authorization") else {
        return Response::error(
            403,
            "MissingAuthenticationTokenException",
            json!({"message": "Missing Authentication Token"}),
        );
    };
    let key_id = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or("");
    if key_id == "EXPIRED" {
        return Response::error(
            403,
            "ExpiredTokenException",
            json!({"message": "The security token included in the request is expired"}),
        );
    }
    if s.denied_keys.contains(key_id) {
        return access_denied();
    }
    if let Some(fault) = s.faults.get_mut(&op).and_then(VecDeque::pop_front) {
        return match fault {
            Fault::Throttle { retry_after } => Response {
                status: 429,
                headers: vec![
                    ("x-amzn-ErrorType".into(), "ThrottlingException".into()),
                    ("Retry-After".into(), retry_after.to_string()),
                ],
                body: json!({"message": "Rate exceeded"}),
            },
            Fault::Quota => quota_exceeded("policy generations per day"),
            Fault::Conflict => conflict("a policy generation is already in progress"),
            Fault::AccessDenied => access_denied(),
            Fault::ExpiredToken => Response::error(
                403,
                "ExpiredTokenException",
                json!({"message": "The security token included in the request is expired"}),
            ),
        };
    }
    match op {
        Op::Start => start(s, body),
        Op::Get => get(s, req),
        Op::List => list(s, req),
        Op::Cancel => cancel(s, req),
    }
}

fn access_denied() -> Response {
    Response::error(
        403,
        "AccessDeniedException",
        json!({"message": "User: arn:aws:sts::123456789012:assumed-role/ci/session is not authorized to perform: access-analyzer:StartPolicyGeneration"}),
    )
}

fn quota_exceeded(what: &str) -> Response {
    Response::error(
        402,
        "ServiceQuotaExceededException",
        json!({"message": format!("Service quota exceeded: {what}"), "resourceId": "policy-generation", "resourceType": "AWS::IAM::Role"}),
    )
}

fn conflict(what: &str) -> Response {
    Response::error(
        409,
        "ConflictException",
        json!({"message": what, "resourceId": "policy-generation", "resourceType": "AWS::IAM::Role"}),
    )
}

fn validation(what: &str) -> Response {
    Response::error(
        400,
        "ValidationException",
        json!({"message": what, "reason": "other"}),
    )
}

fn start(s: &mut State, body: &Value) -> Response {
    let Some(principal) = body["policyGenerationDetails"]["principalArn"].as_str() else {
        return validation("policyGenerationDetails.principalArn is required");
    };
    let trail = &body["cloudTrailDetails"];
    let (Some(start), Some(end)) = (trail["startTime"].as_str(), trail["endTime"].as_str()) else {
        return validation("cloudTrailDetails.startTime and endTime are required");
    };
    let (Some(t0), Some(t1)) = (parse_rfc3339(start), parse_rfc3339(end)) else {
        return validation("bad timestamps");
    };
    if t1.duration_since(t0).unwrap_or_default() > Duration::from_secs(90 * 86400) {
        return validation("the window must be at most 90 days");
    }
    if trail["accessRole"].as_str().is_none()
        || trail["trails"].as_array().is_none_or(|t| t.is_empty())
    {
        return validation("cloudTrailDetails.accessRole and trails are required");
    }
    let token = body["clientToken"].as_str().map(str::to_string);
    if let Some(job) = s
        .jobs
        .iter()
        .find(|j| token.is_some() && j.client_token == token)
    {
        return Response::ok(json!({"jobId": job.id}));
    }
    if s.jobs.iter().any(|j| j.status == "IN_PROGRESS") {
        return conflict("a policy generation is already in progress in this account and region");
    }
    let now = SystemTime::now();
    let today = s
        .jobs
        .iter()
        .filter(|j| {
            now.duration_since(j.started_on).unwrap_or_default() < Duration::from_secs(86400)
        })
        .count();
    if today as u32 >= s.daily_quota {
        return quota_exceeded("policy generations per day");
    }
    s.next_id += 1;
    let id = format!(
        "{:08x}-emu-job-{:04}",
        s.next_id * 2654435761 % 0xffff_ffff,
        s.next_id
    );
    let first = &trail["trails"][0];
    s.jobs.push(Job {
        id: id.clone(),
        principal_arn: principal.to_string(),
        status: "IN_PROGRESS",
        started_on: now,
        completed_on: None,
        polls_left: s.polls_to_finish,
        client_token: token,
        start_time: start.to_string(),
        end_time: end.to_string(),
        trail_arn: first["cloudTrailArn"].as_str().unwrap_or("").to_string(),
        regions: first["regions"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    });
    Response::ok(json!({"jobId": id}))
}

fn job_id_of(req: &Request) -> String {
    req.path
        .trim_start_matches("/policy/generation/")
        .to_string()
}

fn get(s: &mut State, req: &Request) -> Response {
    let id = job_id_of(req);
    let service_level = req
        .query
        .get("includeServiceLevelTemplate")
        .is_some_and(|v| v == "true");
    let outcomes = s.outcomes.clone();
    let Some(job) = s.jobs.iter_mut().find(|j| j.id == id) else {
        return Response::error(
            404,
            "ResourceNotFoundException",
            json!({"message": format!("job {id} not found"), "resourceId": id, "resourceType": "job"}),
        );
    };
    if job.status == "IN_PROGRESS" {
        if job.polls_left == 0 {
            job.status = match outcomes.get(&job.principal_arn) {
                Some(JobOutcome::Fail(_)) => "FAILED",
                _ => "SUCCEEDED",
            };
            job.completed_on = Some(SystemTime::now());
        } else {
            job.polls_left -= 1;
        }
    }
    let job = job.clone();
    let mut details =
        json!({"jobId": job.id, "status": job.status, "startedOn": rfc3339(job.started_on)});
    if let Some(c) = job.completed_on {
        details["completedOn"] = json!(rfc3339(c));
    }
    if job.status == "FAILED" {
        let code = match outcomes.get(&job.principal_arn) {
            Some(JobOutcome::Fail(code)) => code.clone(),
            _ => "SERVICE_ERROR".into(),
        };
        details["jobError"] =
            json!({"code": code, "message": format!("policy generation failed: {code}")});
    }
    let mut out = json!({"jobDetails": details});
    if job.status == "SUCCEEDED" {
        let policies = generated_policies(s, &job.principal_arn, service_level);
        out["generatedPolicyResult"] = json!({
            "generatedPolicies": policies.into_iter().map(|p| json!({"policy": p})).collect::<Vec<_>>(),
            "properties": {
                "isComplete": !s.incomplete.contains(&job.principal_arn),
                "principalArn": job.principal_arn,
                "cloudTrailProperties": {
                    "startTime": job.start_time,
                    "endTime": job.end_time,
                    "trailProperties": [{"cloudTrailArn": job.trail_arn, "regions": job.regions, "allRegions": job.regions.is_empty()}]
                }
            }
        });
    }
    Response::ok(out)
}

/// The principal's actions from the fixtures, one chunk per `chunk_size` actions.
fn generated_policies(s: &State, principal: &str, service_level: bool) -> Vec<String> {
    let mut actions = BTreeSet::new();
    let mut services = BTreeSet::new();
    for e in &s.events {
        let identity = &e["userIdentity"];
        let who = identity["sessionContext"]["sessionIssuer"]["arn"]
            .as_str()
            .or(identity["arn"].as_str());
        if who != Some(principal) || e["errorCode"].is_string() {
            continue;
        }
        let (Some(source), Some(name)) = (e["eventSource"].as_str(), e["eventName"].as_str())
        else {
            continue;
        };
        let service = source.trim_end_matches(".amazonaws.com").to_string();
        if s.service_level_only.contains(&service) {
            services.insert(service);
        } else {
            actions.insert(format!("{service}:{name}"));
        }
    }
    let mut statements: Vec<Value> = Vec::new();
    let actions: Vec<String> = actions.into_iter().collect();
    for chunk in actions.chunks(s.chunk_size.min(actions.len().max(1))) {
        statements.push(json!({"Effect": "Allow", "Action": chunk, "Resource": "*"}));
    }
    if service_level {
        for svc in services {
            statements.push(json!({"Effect": "Allow", "Action": [format!("{svc}:${{Action}}")], "Resource": "*"}));
        }
    }
    statements
        .into_iter()
        .map(|st| json!({"Version": "2012-10-17", "Statement": [st]}).to_string())
        .collect()
}

fn list(s: &mut State, req: &Request) -> Response {
    let filter = req.query.get("principalArn");
    let max: usize = req
        .query
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100)
        .min(s.page_size);
    let from: usize = req
        .query
        .get("nextToken")
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let matching: Vec<&Job> = s
        .jobs
        .iter()
        .filter(|j| filter.is_none_or(|f| *f == j.principal_arn))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(from)
        .take(max)
        .map(|j| {
            let mut v = json!({"jobId": j.id, "principalArn": j.principal_arn, "status": j.status, "startedOn": rfc3339(j.started_on)});
            if let Some(c) = j.completed_on {
                v["completedOn"] = json!(rfc3339(c));
            }
            v
        })
        .collect();
    let mut out = json!({"policyGenerations": page});
    if from + max < matching.len() {
        out["nextToken"] = json!(format!("page-{}", from + max));
    }
    Response::ok(out)
}

fn cancel(s: &mut State, req: &Request) -> Response {
    let id = job_id_of(req);
    let Some(job) = s.jobs.iter_mut().find(|j| j.id == id) else {
        return Response::error(
            404,
            "ResourceNotFoundException",
            json!({"message": format!("job {id} not found"), "resourceId": id, "resourceType": "job"}),
        );
    };
    if job.status == "IN_PROGRESS" {
        job.status = "CANCELED";
        job.completed_on = Some(SystemTime::now());
    }
    Response::ok(json!({}))
}
