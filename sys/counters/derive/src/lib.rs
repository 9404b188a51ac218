//! `#[derive(Count)]`.
