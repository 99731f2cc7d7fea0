//! Test support shared by the integration test crates (`mod common;`). Each test crate uses a
//! different subset, so unused items in one crate are expected.

#[allow(dead_code)]
pub mod fault_proxy;
#[allow(dead_code)]
pub mod s3_server;
#[allow(dead_code)]
pub mod tarn_cli;
