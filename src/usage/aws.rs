//! AWS configuration from flags, and the classification of AWS SDK errors.
//!
//! Owns [`AwsArgs`] (profile, region, endpoint URL, retries) and turns it into an [`SdkConfig`] the AWS way:
//! the default credential chain, `AWS_PROFILE`/`--profile`, `AWS_REGION`/`--region` and the
//! `AWS_ENDPOINT_URL*` variables are all honoured by `aws-config`. [`check_credentials`] makes a missing
//! credential fail in well under a second instead of after the SDK's metadata-service timeouts.
//! [`classify`] sorts any `SdkError` into an [`AwsError`] a user can act on, keeping the SDK error as the
//! source. [`run_with_aws`] is the one way the commands reach AWS: an async runtime of its own, the
//! configuration, the credential check, then the work. It does not call any service itself.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_accessanalyzer::config::ProvideCredentials;
use aws_sdk_accessanalyzer::config::retry::RetryConfig;
use aws_sdk_accessanalyzer::error::{ProvideErrorMetadata, SdkError};
use std::error::Error as StdError;
use std::time::Duration;

/// How long [`check_credentials`] waits for the credential chain before calling it missing.
pub const CREDENTIALS_TIMEOUT: Duration = Duration::from_millis(800);

/// AWS settings as the user gave them (flags), before resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsArgs {
    /// Named profile (`--profile`); `None` uses `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// Region (`--region`); `None` uses the environment and profile.
    pub region: Option<String>,
    /// Endpoint override for every service (`--endpoint-url`); `AWS_ENDPOINT_URL*` also work.
    pub endpoint_url: Option<String>,
    /// SDK retry attempts per call; `None` keeps the SDK default (3).
    pub max_attempts: Option<u32>,
}

/// Builds the shared SDK configuration from the arguments and the standard AWS sources.
pub async fn sdk_config(args: &AwsArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(attempts) = args.max_attempts {
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts.max(1)));
    }
    loader.load().await
}

/// Runs `work` on an async runtime of its own (`workers` threads; 0 runs it on the calling thread)
/// with the SDK configuration of `args`, once its credentials are checked: a machine without any
/// fails here, fast, before any call.
pub fn run_with_aws<T, E, F, Fut>(args: &AwsArgs, workers: usize, work: F) -> Result<T, E>
where
    F: FnOnce(SdkConfig) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: From<AwsError> + From<std::io::Error>,
{
    let mut builder = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if workers > 0 {
        builder.worker_threads(workers);
    }
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| std::io::Error::other(format!("starting the async runtime: {e}")))?;
    runtime.block_on(async {
        let config = sdk_config(args).await;
        check_credentials(&config).await?;
        work(config).await
    })
}

/// Resolves credentials once, within [`CREDENTIALS_TIMEOUT`], so a machine without any fails fast.
///
/// Without this the first API call would wait for the EC2 metadata service to time out.
pub async fn check_credentials(config: &SdkConfig) -> Result<(), AwsError> {
    check_credentials_within(config, CREDENTIALS_TIMEOUT).await
}

/// [`check_credentials`] with another limit, for chains known to be slow (SSO, `credential_process`).
pub async fn check_credentials_within(config: &SdkConfig, limit: Duration) -> Result<(), AwsError> {
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsError::Credentials {
            operation: "resolve credentials".into(),
            message: "no credential provider is configured".into(),
            source: None,
        });
    };
    match tokio::time::timeout(limit, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        // The chain's own words first, what to do last: one line, read left to right.
        Ok(Err(e)) => Err(AwsError::Credentials {
            operation: "resolve credentials".into(),
            message: format!(
                "no AWS credentials found ({}); set AWS_PROFILE/--profile or AWS_ACCESS_KEY_ID, or run `aws sso login`",
                describe(&e)
            ),
            source: Some(Box::new(e)),
        }),
        Err(_) => Err(AwsError::Credentials {
            operation: "resolve credentials".into(),
            message: format!(
                "no AWS credentials found within {} ms; set AWS_PROFILE/--profile or AWS_ACCESS_KEY_ID",
                limit.as_millis()
            ),
            source: None,
        }),
    }
}

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// An AWS call that failed, sorted by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The service asked us to slow down; `retry_after` is its hint in seconds.
    #[error("{operation}: throttled by AWS{}", retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    Throttled {
        /// The API operation.
        operation: String,
        /// `Retry-After` / `retryAfterSeconds`, when given.
        retry_after: Option<u64>,
        /// The SDK error.
        #[source]
        source: Source,
    },
    /// A service quota is used up.
    #[error("{operation}: service quota exceeded: {message}")]
    Quota {
        /// The API operation.
        operation: String,
        /// The service's message.
        message: String,
        /// The SDK error.
        #[source]
        source: Source,
    },
    /// The request conflicts with the resource's state (e.g. another job is running).
    #[error("{operation}: conflict: {message}")]
    Conflict {
        /// The API operation.
        operation: String,
        /// The service's message.
        message: String,
        /// The SDK error.
        #[source]
        source: Source,
    },
    /// The caller lacks a permission.
    #[error("{operation}: access denied: {message}")]
    AccessDenied {
        /// The API operation.
        operation: String,
        /// The service's message.
        message: String,
        /// The SDK error.
        #[source]
        source: Source,
    },
    /// Credentials are missing, invalid or expired.
    #[error("{operation}: {message}")]
    Credentials {
        /// The API operation.
        operation: String,
        /// What is wrong with the credentials.
        message: String,
        /// The SDK error, when there was a call.
        #[source]
        source: Option<Source>,
    },
    /// The named resource does not exist.
    #[error("{operation}: not found: {message}")]
    NotFound {
        /// The API operation.
        operation: String,
        /// The service's message.
        message: String,
        /// The SDK error.
        #[source]
        source: Source,
    },
    /// Anything else (network, validation, internal errors).
    #[error("{operation}: {message}")]
    Other {
        /// The API operation.
        operation: String,
        /// The service's message or the transport failure.
        message: String,
        /// The SDK error.
        #[source]
        source: Source,
    },
}

impl AwsError {
    /// True when waiting and retrying the same call may succeed.
    pub fn is_throttle(&self) -> bool {
        matches!(self, AwsError::Throttled { .. })
    }
}

/// Error codes that mean "your credentials are the problem", across AWS services.
const CREDENTIAL_CODES: &[&str] = &[
    "ExpiredTokenException",
    "ExpiredToken",
    "RequestExpired",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException",
];

/// Sorts an SDK error into an [`AwsError`] for `operation`, keeping the SDK error as the source.
pub fn classify<E>(
    operation: &str,
    err: SdkError<E, aws_sdk_accessanalyzer::config::http::HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let operation = operation.to_string();
    let retry_after = err
        .raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    let message = err
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| describe(&err));
    if let SdkError::ConstructionFailure(_) = &err {
        // The only way a well-formed request fails to build is a missing identity (credentials).
        let text = describe(&err);
        if text.contains("identity") || text.contains("credential") {
            return AwsError::Credentials {
                operation,
                message: "no AWS credentials available".into(),
                source: Some(Box::new(err)),
            };
        }
    }
    let source: Source = Box::new(err);
    match code.as_deref() {
        Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") => {
            AwsError::Throttled {
                operation,
                retry_after,
                source,
            }
        }
        Some("ServiceQuotaExceededException" | "LimitExceededException") => AwsError::Quota {
            operation,
            message,
            source,
        },
        Some("ConflictException") => AwsError::Conflict {
            operation,
            message,
            source,
        },
        Some("AccessDeniedException" | "AccessDenied") => AwsError::AccessDenied {
            operation,
            message,
            source,
        },
        Some(c) if CREDENTIAL_CODES.contains(&c) => AwsError::Credentials {
            operation,
            message: format!(
                "AWS rejected the credentials ({c}): {message}; refresh them (e.g. `aws sso login`)"
            ),
            source: Some(source),
        },
        Some("ResourceNotFoundException" | "NotFoundException" | "NoSuchEntity") => {
            AwsError::NotFound {
                operation,
                message,
                source,
            }
        }
        _ if status == Some(429) => AwsError::Throttled {
            operation,
            retry_after,
            source,
        },
        _ => AwsError::Other {
            operation,
            // The code is all an unfamiliar error says about its kind; the line ends here.
            message: match code {
                Some(c) if !message.contains(c.as_str()) => format!("{c}: {message}"),
                _ => message,
            },
            source,
        },
    }
}

/// The error and its sources on one line, for messages that have no service text.
fn describe(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    text
}
