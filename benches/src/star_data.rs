//! The star-join workload's data: a fact table of sales sorted by date, in several Parquet files
//! with many row groups (so min/max statistics can prune a date range), and four small dimension
//! tables. Generated deterministically here (no generator to install), once per shape.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::workload::{FileFormat, TableSpec};

/// The fact table's days: 2019-01-01 through 2024-12-31.
const FIRST_DAY: i32 = 17_897; // days from 1970-01-01 to 2019-01-01
const DAYS: i32 = 2_192;
const STORES: i32 = 200;
const PRODUCTS: i32 = 20_000;
const CUSTOMERS: i32 = 100_000;
const REGIONS: [&str; 5] = ["NORTH", "SOUTH", "EAST", "WEST", "CENTRAL"];
const CATEGORIES: [&str; 12] =
    ["BOOKS", "TOYS", "GARDEN", "KITCHEN", "SPORTS", "MUSIC", "TOOLS", "BEAUTY", "GROCERY", "SHOES", "OFFICE", "PETS"];
const SEGMENTS: [&str; 5] = ["CONSUMER", "CORPORATE", "HOME OFFICE", "SMALL BUSINESS", "PUBLIC SECTOR"];
const COUNTRIES: [&str; 10] = ["NL", "DE", "FR", "BE", "UK", "ES", "IT", "PL", "SE", "US"];
const DAY_NAMES: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
/// Rows per batch handed to the Parquet writer while generating.
const WRITE_BATCH_ROWS: usize = 65_536;

const SALES_COLUMNS: [(&str, &str); 6] = [
    ("sale_date", "date"),
    ("store_id", "int"),
    ("product_id", "int"),
    ("customer_id", "int"),
    ("quantity", "int"),
    ("amount", "decimal(12,2)"),
];
const DATE_COLUMNS: [(&str, &str); 5] =
    [("d_date", "date"), ("d_year", "int"), ("d_quarter", "int"), ("d_month", "int"), ("d_day_name", "string")];
const STORE_COLUMNS: [(&str, &str); 4] =
    [("store_id", "int"), ("store_name", "string"), ("city", "string"), ("region", "string")];
const PRODUCT_COLUMNS: [(&str, &str); 5] = [
    ("product_id", "int"),
    ("product_name", "string"),
    ("category", "string"),
    ("brand", "string"),
    ("unit_price", "decimal(10,2)"),
];
const CUSTOMER_COLUMNS: [(&str, &str); 4] =
    [("customer_id", "int"), ("customer_name", "string"), ("segment", "string"), ("country", "string")];

/// The shape of the generated fact table.
#[derive(Debug, Clone, Copy)]
pub struct StarShape {
    pub rows: u64,
    pub files: u64,
    pub row_group_rows: usize,
}

/// The tables of one shape, generating them first when they are not cached. Like the TPC-H cache,
/// generation happens in a temporary folder renamed into place when complete.
pub fn prepare(data_dir: &Path, shape: StarShape) -> Result<Vec<TableSpec>> {
    if shape.rows == 0 || shape.files == 0 || shape.row_group_rows == 0 {
        bail!("--rows, --files and --row-group-rows must be positive");
    }
    let dir = data_dir.join("star").join(format!("rows{}-files{}-rg{}", shape.rows, shape.files, shape.row_group_rows));
    if !dir.exists() {
        let staging = PathBuf::from(format!("{}.tmp", dir.display()));
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        eprintln!("generating the star-join data ({} sales rows) into {} ...", shape.rows, dir.display());
        generate(&staging, shape)?;
        fs::rename(&staging, &dir).with_context(|| format!("moving {} into place", staging.display()))?;
    }
    let table = |name: &str, columns: &[(&str, &str)], local: bool| {
        let mut spec = TableSpec::new(name, FileFormat::Parquet, dir.join(name), columns);
        spec.prefer_local = local;
        spec
    };
    Ok(vec![
        table("sales", &SALES_COLUMNS, false),
        table("date_dim", &DATE_COLUMNS, true),
        table("store", &STORE_COLUMNS, true),
        table("product", &PRODUCT_COLUMNS, true),
        table("customer", &CUSTOMER_COLUMNS, true),
    ])
}

fn generate(dir: &Path, shape: StarShape) -> Result<()> {
    write_table(dir, "date_dim", &DATE_COLUMNS, vec![date_dim()?], shape.row_group_rows)?;
    write_table(dir, "store", &STORE_COLUMNS, vec![stores()?], shape.row_group_rows)?;
    write_table(dir, "product", &PRODUCT_COLUMNS, vec![products()?], shape.row_group_rows)?;
    write_table(dir, "customer", &CUSTOMER_COLUMNS, vec![customers()?], shape.row_group_rows)?;
    write_sales(dir, shape)
}

/// SplitMix64: a tiny, well-mixed deterministic generator, so every run produces the same files.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `1..=n`.
    fn one_to(&mut self, n: i32) -> i32 {
        (self.next() % n as u64) as i32 + 1
    }
}

/// A product's price in cents, a fixed function of its id so facts and dimension agree.
fn unit_price_cents(product_id: i32) -> i128 {
    199 + (SplitMix(product_id as u64).next() % 9_800) as i128
}

fn schema_of(columns: &[(&str, &str)]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, ty)| {
            let data_type = match *ty {
                "date" => DataType::Date32,
                "int" => DataType::Int32,
                "string" => DataType::Utf8,
                "decimal(12,2)" => DataType::Decimal128(12, 2),
                "decimal(10,2)" => DataType::Decimal128(10, 2),
                other => unreachable!("star column type {other} is not in the table above"),
            };
            Field::new(*name, data_type, false)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn batch(columns: &[(&str, &str)], arrays: Vec<ArrayRef>) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(schema_of(columns), arrays)?)
}

fn decimal(values: Vec<i128>, precision: u8) -> Result<ArrayRef> {
    Ok(Arc::new(Decimal128Array::from(values).with_precision_and_scale(precision, 2)?))
}

fn date_dim() -> Result<RecordBatch> {
    let days: Vec<i32> = (FIRST_DAY..FIRST_DAY + DAYS).collect();
    let dates: Vec<chrono::NaiveDate> = days.iter().map(|d| epoch_day(*d)).collect();
    use chrono::Datelike;
    batch(
        &DATE_COLUMNS,
        vec![
            Arc::new(Date32Array::from(days.clone())),
            Arc::new(Int32Array::from_iter_values(dates.iter().map(|d| d.year()))),
            Arc::new(Int32Array::from_iter_values(dates.iter().map(|d| (d.month0() / 3 + 1) as i32))),
            Arc::new(Int32Array::from_iter_values(dates.iter().map(|d| d.month() as i32))),
            Arc::new(StringArray::from_iter_values(days.iter().map(|d| DAY_NAMES[d.rem_euclid(7) as usize]))),
        ],
    )
}

fn epoch_day(day: i32) -> chrono::NaiveDate {
    // 1970-01-01 exists and every day of the fixed range above is representable.
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date") + chrono::Days::new(day as u64)
}

fn stores() -> Result<RecordBatch> {
    let ids: Vec<i32> = (1..=STORES).collect();
    let city = |id: &i32| format!("CITY {:02}", id % 40);
    batch(
        &STORE_COLUMNS,
        vec![
            Arc::new(Int32Array::from(ids.clone())),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|id| format!("STORE {id:03}")))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(city))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|id| REGIONS[(id % 40 % 5) as usize]))),
        ],
    )
}

fn products() -> Result<RecordBatch> {
    let ids: Vec<i32> = (1..=PRODUCTS).collect();
    batch(
        &PRODUCT_COLUMNS,
        vec![
            Arc::new(Int32Array::from(ids.clone())),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|id| format!("PRODUCT {id:05}")))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|id| CATEGORIES[(id % 12) as usize]))),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|id| format!("BRAND#{:02}", id % 50)))),
            decimal(ids.iter().map(|id| unit_price_cents(*id)).collect(), 10)?,
        ],
    )
}

fn customers() -> Result<RecordBatch> {
    let ids: Vec<i32> = (1..=CUSTOMERS).collect();
    let mut random = SplitMix(7);
    let segments: Vec<&str> = ids.iter().map(|_| SEGMENTS[(random.next() % 5) as usize]).collect();
    let countries: Vec<&str> = ids.iter().map(|_| COUNTRIES[(random.next() % 10) as usize]).collect();
    batch(
        &CUSTOMER_COLUMNS,
        vec![
            Arc::new(Int32Array::from(ids.clone())),
            Arc::new(StringArray::from_iter_values(ids.iter().map(|id| format!("CUSTOMER {id:06}")))),
            Arc::new(StringArray::from(segments)),
            Arc::new(StringArray::from(countries)),
        ],
    )
}

/// Sales rows in date order: row `i` of `rows` falls on day `i * DAYS / rows`, so every day gets
/// the same share and each file holds one contiguous date range.
fn write_sales(dir: &Path, shape: StarShape) -> Result<()> {
    let table_dir = dir.join("sales");
    fs::create_dir_all(&table_dir)?;
    let schema = schema_of(&SALES_COLUMNS);
    let mut random = SplitMix(42);
    for file in 0..shape.files {
        let (start, end) = (shape.rows * file / shape.files, shape.rows * (file + 1) / shape.files);
        let path = table_dir.join(format!("part-{file:03}.parquet"));
        let mut writer = parquet_writer(&path, schema.clone(), shape.row_group_rows)?;
        let mut row = start;
        while row < end {
            let n = (end - row).min(WRITE_BATCH_ROWS as u64);
            let days = (row..row + n).map(|i| FIRST_DAY + (i as u128 * DAYS as u128 / shape.rows as u128) as i32);
            let mut products = Vec::with_capacity(n as usize);
            let mut quantities = Vec::with_capacity(n as usize);
            let mut stores = Vec::with_capacity(n as usize);
            let mut customers = Vec::with_capacity(n as usize);
            for _ in 0..n {
                stores.push(random.one_to(STORES));
                products.push(random.one_to(PRODUCTS));
                customers.push(random.one_to(CUSTOMERS));
                quantities.push(random.one_to(10));
            }
            let amounts = products.iter().zip(&quantities).map(|(p, q)| unit_price_cents(*p) * *q as i128).collect();
            let arrays: Vec<ArrayRef> = vec![
                Arc::new(Date32Array::from_iter_values(days)),
                Arc::new(Int32Array::from(stores)),
                Arc::new(Int32Array::from(products)),
                Arc::new(Int32Array::from(customers)),
                Arc::new(Int32Array::from(quantities)),
                decimal(amounts, 12)?,
            ];
            writer.write(&RecordBatch::try_new(schema.clone(), arrays)?)?;
            row += n;
        }
        writer.close()?;
    }
    Ok(())
}

fn write_table(
    dir: &Path,
    name: &str,
    columns: &[(&str, &str)],
    batches: Vec<RecordBatch>,
    row_group_rows: usize,
) -> Result<()> {
    let table_dir = dir.join(name);
    fs::create_dir_all(&table_dir)?;
    let mut writer = parquet_writer(&table_dir.join("part-000.parquet"), schema_of(columns), row_group_rows)?;
    for batch in &batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(())
}

/// Snappy, as `tpchgen-cli` and most lake writers use, with page-level statistics (the default).
fn parquet_writer(path: &Path, schema: SchemaRef, row_group_rows: usize) -> Result<ArrowWriter<File>> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(ArrowWriter::try_new(file, schema, Some(props))?)
}
