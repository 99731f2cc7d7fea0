//! TPC-H data: generated once per scale factor and format by `tpchgen-cli` (the Python package of
//! the tpchgen-rs generator, `pip install tpchgen-cli`) into the cache folder, one folder of
//! several files per table, and described as [`TableSpec`]s.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workload::{FileFormat, TableSpec};

/// The eight tables in the column order and types the generator writes (its Parquet files carry
/// exactly these: 64-bit keys, `decimal(15,2)` money, `date` dates, strings).
const TABLES: [(&str, &[(&str, &str)]); 8] = [
    ("region", &[("r_regionkey", "bigint"), ("r_name", "string"), ("r_comment", "string")]),
    ("nation", &[("n_nationkey", "bigint"), ("n_name", "string"), ("n_regionkey", "bigint"), ("n_comment", "string")]),
    (
        "part",
        &[
            ("p_partkey", "bigint"),
            ("p_name", "string"),
            ("p_mfgr", "string"),
            ("p_brand", "string"),
            ("p_type", "string"),
            ("p_size", "int"),
            ("p_container", "string"),
            ("p_retailprice", "decimal(15,2)"),
            ("p_comment", "string"),
        ],
    ),
    (
        "supplier",
        &[
            ("s_suppkey", "bigint"),
            ("s_name", "string"),
            ("s_address", "string"),
            ("s_nationkey", "bigint"),
            ("s_phone", "string"),
            ("s_acctbal", "decimal(15,2)"),
            ("s_comment", "string"),
        ],
    ),
    (
        "partsupp",
        &[
            ("ps_partkey", "bigint"),
            ("ps_suppkey", "bigint"),
            ("ps_availqty", "int"),
            ("ps_supplycost", "decimal(15,2)"),
            ("ps_comment", "string"),
        ],
    ),
    (
        "customer",
        &[
            ("c_custkey", "bigint"),
            ("c_name", "string"),
            ("c_address", "string"),
            ("c_nationkey", "bigint"),
            ("c_phone", "string"),
            ("c_acctbal", "decimal(15,2)"),
            ("c_mktsegment", "string"),
            ("c_comment", "string"),
        ],
    ),
    (
        "orders",
        &[
            ("o_orderkey", "bigint"),
            ("o_custkey", "bigint"),
            ("o_orderstatus", "string"),
            ("o_totalprice", "decimal(15,2)"),
            ("o_orderdate", "date"),
            ("o_orderpriority", "string"),
            ("o_clerk", "string"),
            ("o_shippriority", "int"),
            ("o_comment", "string"),
        ],
    ),
    (
        "lineitem",
        &[
            ("l_orderkey", "bigint"),
            ("l_partkey", "bigint"),
            ("l_suppkey", "bigint"),
            ("l_linenumber", "int"),
            ("l_quantity", "decimal(15,2)"),
            ("l_extendedprice", "decimal(15,2)"),
            ("l_discount", "decimal(15,2)"),
            ("l_tax", "decimal(15,2)"),
            ("l_returnflag", "string"),
            ("l_linestatus", "string"),
            ("l_shipdate", "date"),
            ("l_commitdate", "date"),
            ("l_receiptdate", "date"),
            ("l_shipinstruct", "string"),
            ("l_shipmode", "string"),
            ("l_comment", "string"),
        ],
    ),
];

/// Uncompressed bytes per Parquet row group the generator aims at: about 1M `lineitem` rows, the
/// row-group size the benchmark issue asks for (smaller tables get fewer rows per group).
const ROW_GROUP_BYTES: u64 = 80 * 1024 * 1024;

/// Files per table: about 1M `lineitem` rows per file, and at least two so that even small scale
/// factors exercise multi-file scans.
fn parts_for(scale_factor: f64) -> u64 {
    ((scale_factor * 6.0).ceil() as u64).max(2)
}

/// The folder of one scale factor and format, generating it first when it is not cached.
/// Generation writes into a temporary sibling and renames it when complete, so an interrupted run
/// never leaves a half-written cache behind.
pub fn prepare(data_dir: &Path, scale_factor: f64, format: FileFormat) -> Result<Vec<TableSpec>> {
    if !(scale_factor > 0.0 && scale_factor <= 1000.0) {
        bail!("--sf must be in (0, 1000], got {scale_factor}");
    }
    let dir = data_dir.join("tpch").join(format!("sf{scale_factor}")).join(format.name());
    if !dir.exists() {
        generate(&dir, scale_factor, format)?;
    }
    Ok(TABLES.iter().map(|(name, columns)| TableSpec::new(name, format, dir.join(name), columns)).collect())
}

fn generate(dir: &Path, scale_factor: f64, format: FileFormat) -> Result<()> {
    let staging = PathBuf::from(format!("{}.tmp", dir.display()));
    if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    fs::create_dir_all(&staging)?;
    eprintln!("generating TPC-H SF {scale_factor} as {} into {} ...", format.name(), dir.display());
    let mut command = Command::new("tpchgen-cli");
    command
        .arg(format.name())
        .arg("--scale-factor")
        .arg(scale_factor.to_string())
        .arg("--parts")
        .arg(parts_for(scale_factor).to_string())
        .arg("--output-dir")
        .arg(&staging);
    if format == FileFormat::Parquet {
        command.arg("--row-group-bytes").arg(ROW_GROUP_BYTES.to_string());
    }
    let status = command.status().context("running tpchgen-cli (install it with `pip install tpchgen-cli`)")?;
    if !status.success() {
        bail!("tpchgen-cli failed ({status})");
    }
    for (name, _) in TABLES {
        if !staging.join(name).is_dir() {
            bail!("tpchgen-cli wrote no folder for table {name} in {}", staging.display());
        }
    }
    fs::rename(&staging, dir).with_context(|| format!("moving {} into place", staging.display()))
}
