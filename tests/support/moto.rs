//! The moto AWS emulator for integration tests: one `moto_server` per test binary, shared by the
//! tests that run at the same time and stopped when the last of them is done.
//!
//! Used as `crate::support::moto` by `tests/it`. `scripts/test` starts moto itself and
//! exports `IAMTRIM_MOTO_ENDPOINT`; without it, [`moto`] starts `target/moto-venv/bin/moto_server`
//! on a free loopback port. A missing venv fails the test (it never skips): run `scripts/test` once.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The environment variable `scripts/test` sets to its moto endpoint.
pub const ENDPOINT_VAR: &str = "IAMTRIM_MOTO_ENDPOINT";

/// A running moto server; dropping the last handle stops a server this process started.
pub struct Moto {
    endpoint: String,
    child: Option<Child>,
}

static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());

/// The moto server for this test: the one from `scripts/test`, or one started here.
pub fn moto() -> Arc<Moto> {
    let mut shared = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let started = Arc::new(Moto::start());
    *shared = Arc::downgrade(&started);
    started
}

impl Moto {
    fn start() -> Moto {
        if let Ok(endpoint) = std::env::var(ENDPOINT_VAR)
            && !endpoint.is_empty()
        {
            return Moto {
                endpoint,
                child: None,
            };
        }
        let server = venv_dir().join("bin/moto_server");
        assert!(
            server.exists(),
            "moto is not installed at {}: run `scripts/test` (it creates the venv and runs the tests)",
            server.display()
        );
        let port = free_port();
        let mut child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Like `scripts/test`: IAM holds the AWS-managed policies only when asked.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited early with {status}", server.display());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not listen on port {port} within 30 s",
                    server.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK config pointing at moto: test credentials, us-east-1, the moto endpoint.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "iamtrim-moto",
                ),
            ))
            .endpoint_url(&self.endpoint)
            .build()
    }

    /// An S3 client for moto (path-style addressing: moto has no per-bucket host names).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `target/moto-venv`, honouring `CARGO_TARGET_DIR`.
fn venv_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("moto-venv")
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}
