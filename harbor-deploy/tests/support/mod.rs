//! Helpers shared by the integration tests.

// each test binary uses a different part of the harness
#![allow(dead_code)]

pub mod compare;
