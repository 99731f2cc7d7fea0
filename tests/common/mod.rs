//! Test support shared by the integration test crates (`mod common;`).

pub mod s3_server;
// Only the fault tests use the proxy; the other test crates compile it unused.
#[allow(dead_code)]
pub mod fault_proxy;
