pub mod aa_emulator;
