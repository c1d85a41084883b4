//! `.iamtrim.toml` configuration.
