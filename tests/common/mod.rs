//! Test support shared by the integration test crates (`mod common;`).

pub mod s3_server;
