//! AWS configuration from flags: no credentials fails fast; flags and environment reach the client.
//!
//! One test in its own binary, because it rewrites the process environment.

#[path = "support/aa_emulator.rs"]
mod aa_emulator;

use aa_emulator::{Emulator, Op};
use iamtrim::usage::aws::{AwsArgs, AwsError, check_credentials, sdk_config};
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test]
async fn no_credentials_fail_fast_and_environment_credentials_reach_the_endpoint() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY: this binary has a single test and sets the environment before any other thread reads it.
    unsafe {
        for var in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_ACCESSANALYZER",
        ] {
            std::env::remove_var(var);
        }
        std::env::set_var("HOME", home.path());
        std::env::set_var("AWS_CONFIG_FILE", home.path().join("no-config"));
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("no-credentials"),
        );
    }

    // 1. Nothing anywhere: a clear credentials error in under a second, region unknown included.
    let began = Instant::now();
    let config = sdk_config(&AwsArgs::default()).await;
    let err = check_credentials(&config)
        .await
        .expect_err("there are no credentials");
    let took = began.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(matches!(err, AwsError::Credentials { .. }), "{err:?}");
    assert!(err.to_string().contains("no AWS credentials"), "{err}");

    // 2. A --profile that does not exist is the same clear error, as fast.
    let began = Instant::now();
    let args = AwsArgs {
        profile: Some("ci".into()),
        region: Some("eu-west-1".into()),
        ..AwsArgs::default()
    };
    let config = sdk_config(&args).await;
    assert!(check_credentials(&config).await.is_err());
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "took {:?}",
        began.elapsed()
    );

    // 3. Environment credentials plus --region and --endpoint-url reach the emulator.
    let emu = Emulator::start(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/access_analyzer/cloudtrail"),
    );
    // SAFETY: as above, single-test binary.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDENV");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "secret");
    }
    let args = AwsArgs {
        profile: None,
        region: Some("eu-west-1".into()),
        endpoint_url: Some(emu.url().to_string()),
        max_attempts: Some(1),
    };
    let config = sdk_config(&args).await;
    check_credentials(&config)
        .await
        .expect("environment credentials");
    assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
    let client = aws_sdk_accessanalyzer::Client::new(&config);
    let out = client
        .list_policy_generations()
        .send()
        .await
        .expect("emulator answers");
    assert!(out.policy_generations().is_empty());
    assert_eq!(emu.count(Op::List), 1);
}
