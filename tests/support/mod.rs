//! Shared test support for `tests/it` (the emulators, moto, test repositories).

pub mod aa_emulator;
pub mod ct_corpus;
pub mod moto;
pub mod plan_gen;
pub mod query_emulator;
pub mod repo;
pub mod s3_emulator;
