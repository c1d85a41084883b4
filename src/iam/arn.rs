//! IAM ARNs as text: is one an AWS-managed policy, which account holds it.
//!
//! It imports nothing: discovery, the AWS-managed catalog and usage all ask it.

/// True for `arn:<partition>:iam::aws:policy/...`.
pub fn is_aws_managed(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(_), Some("iam"), Some(""), Some("aws"), Some(rest)) if rest.starts_with("policy/")
    )
}

/// The account id of an IAM ARN.
pub fn account_of(arn: &str) -> Option<String> {
    let acct = arn.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then(|| acct.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_aws_managed_arns() {
        assert!(is_aws_managed("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(is_aws_managed(
            "arn:aws-us-gov:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        ));
        assert!(!is_aws_managed("arn:aws:iam::123456789012:policy/mine"));
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/x").as_deref(),
            Some("123456789012")
        );
    }
}
