//! Grouping files into tables the way a person would: each folder at `--table-level` below the
//! crawl root is a table (top-level folders by default), the folders below it are its
//! partitions, and a partition folder whose data does not belong (another format, another
//! partition layout, or a schema sharing too few columns) becomes its own table named after its
//! path instead of breaking the table. Every such decision carries its reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use tarn_catalog::SqlType;

use crate::classify::{ClassifiedFile, FileClass, FileFormat};
use crate::partitions::{describe_signature, key_names, key_type, parse_level, signature, Level, Signature};
use crate::schema::MergedSchema;

/// A typed partition key and why it has its type.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionKey {
    pub name: String,
    pub data_type: SqlType,
    pub reason: String,
}

/// One partition found on storage, with its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundPartition {
    /// Decoded values, one per key.
    pub values: Vec<String>,
    /// Folder names from the table's folder to the partition's (`year=2024/month=01`).
    pub relative_dir: String,
    pub stats: Stats,
}

/// Files, bytes and rows of a table or partition.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub rows: u64,
    /// Every row count came from a footer or a whole-file read.
    pub rows_exact: bool,
}

impl Stats {
    fn add(&mut self, file: &ClassifiedFile) {
        if self.files == 0 {
            self.rows_exact = true;
        }
        self.files += 1;
        self.bytes += file.object.size;
        self.rows += file.rows;
        self.rows_exact &= file.class.rows_exact;
    }
}

/// A table the files make up.
#[derive(Debug, Clone)]
pub struct TableGroup {
    /// The table name (sanitised, with the prefix).
    pub name: String,
    /// The table's folder relative to the crawl root (`""` for the root itself).
    pub relative_dir: String,
    /// The format of its files (the first file's compression stands for all).
    pub format: FileFormat,
    pub schema: MergedSchema,
    pub partition_keys: Vec<PartitionKey>,
    pub partitions: Vec<FoundPartition>,
    pub stats: Stats,
    /// Some text file spells NULL as `NULL`.
    pub word_nulls: bool,
    /// Why the table is what it is.
    pub reasons: Vec<String>,
    /// Things a user should know (files scans will see but the crawler did not use...).
    pub warnings: Vec<String>,
    /// How the files were read (dialect, header), from the first file.
    pub file_notes: Vec<String>,
}

/// A classified file that belongs to no table, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct UnplacedFile {
    pub relative: String,
    pub reason: String,
}

/// How tables are found.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    pub table_level: usize,
    pub table_prefix: String,
    /// The last folder name of the crawl root, naming a table of files directly in it.
    pub root_name: String,
}

/// One file with its folders below the table under consideration.
#[derive(Clone)]
struct Entry<'a> {
    file: &'a ClassifiedFile,
    /// The file's folders below the crawl root, parsed once per folder and shared by its files
    /// (a partition folder holds many), so grouping does not allocate per file.
    folder: Rc<Folder>,
    /// How many of `folder`'s levels lie above the table under consideration.
    skip: usize,
}

/// The folder levels between the crawl root and a file.
struct Folder {
    names: Vec<String>,
    levels: Vec<Level>,
}

impl Entry<'_> {
    /// Raw folder names below the table's folder.
    fn names(&self) -> &[String] {
        &self.folder.names[self.skip..]
    }

    fn levels(&self) -> &[Level] {
        &self.folder.levels[self.skip..]
    }
}

/// Groups classified files into tables.
pub fn group_tables(files: &[ClassifiedFile], options: &GroupOptions) -> (Vec<TableGroup>, Vec<UnplacedFile>) {
    let mut unplaced = Vec::new();
    let mut candidates: BTreeMap<String, Vec<Entry<'_>>> = BTreeMap::new();
    let level = options.table_level;
    let only_root_files = files.iter().all(|f| f.object.folders().is_empty());
    let mut parsed: HashMap<&str, Rc<Folder>> = HashMap::new();
    for file in files {
        let folders = file.object.folders();
        let dir = file.object.relative.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
        let folder = parsed
            .entry(dir)
            .or_insert_with(|| {
                Rc::new(Folder {
                    names: folders.iter().map(|s| s.to_string()).collect(),
                    levels: folders.iter().map(|s| parse_level(s)).collect(),
                })
            })
            .clone();
        if folders.len() < level {
            if level == 1 && only_root_files {
                candidates.entry(String::new()).or_default().push(Entry { file, folder, skip: 0 });
            } else {
                let reason = if folders.is_empty() {
                    "a file directly in the crawl root next to table folders: a table here would overlap every other \
                     table"
                        .to_string()
                } else {
                    format!("above --table-level {level}: tables are the folders {level} levels below the crawl root")
                };
                unplaced.push(UnplacedFile { relative: file.object.relative.clone(), reason });
            }
            continue;
        }
        let dir = folders[..level].join("/");
        candidates.entry(dir).or_default().push(Entry { file, folder, skip: level });
    }
    let mut tables = Vec::new();
    for (dir, entries) in candidates {
        let name = if dir.is_empty() {
            sanitize(&options.root_name)
        } else {
            sanitize(dir.rsplit('/').next().unwrap_or(&dir))
        };
        let origin = if dir.is_empty() {
            "every file is directly in the crawl root, which is one table".to_string()
        } else if level == 1 {
            format!("{dir}/ is a top-level folder under the crawl root")
        } else {
            format!("{dir}/ is {level} levels below the crawl root (--table-level {level})")
        };
        build_tables(&dir, &name, origin, entries, &mut tables, &mut unplaced);
    }
    // Two folders may sanitise to one name (`Orders/`, `orders-/`): later ones get a suffix.
    let mut taken: Vec<String> = Vec::new();
    for table in &mut tables {
        let base = format!("{}{}", options.table_prefix, table.name);
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        if name != base {
            table.reasons.push(format!("named {name}: {base} was taken by another folder"));
        }
        taken.push(name.clone());
        table.name = name;
    }
    unplaced.sort_by(|a, b| a.relative.cmp(&b.relative));
    (tables, unplaced)
}

/// The files of one child folder (or the files directly in the table's folder) that agree on
/// format and layout.
struct Child<'a> {
    /// The child folder's name, `None` for files directly in the table's folder.
    name: Option<String>,
    format_key: String,
    signature: Signature,
    schema: MergedSchema,
    entries: Vec<Entry<'a>>,
}

/// Builds the table at `dir` from `entries`, splitting off child folders that do not belong.
fn build_tables<'a>(
    dir: &str,
    name: &str,
    origin: String,
    entries: Vec<Entry<'a>>,
    tables: &mut Vec<TableGroup>,
    unplaced: &mut Vec<UnplacedFile>,
) {
    let mut by_child: BTreeMap<Option<String>, Vec<Entry<'a>>> = BTreeMap::new();
    for entry in entries {
        by_child.entry(entry.names().first().cloned()).or_default().push(entry);
    }
    let mut children: Vec<Child<'a>> = Vec::new();
    for (child_name, entries) in by_child {
        let where_ = join(dir, child_name.as_deref().unwrap_or(""));
        children.push(agreeing_child(child_name, &where_, entries, unplaced));
    }
    // The anchor is the child with the most files: the table is what most of its data looks like.
    let Some(anchor_at) =
        children.iter().enumerate().max_by_key(|(i, c)| (c.entries.len(), std::cmp::Reverse(*i))).map(|(i, _)| i)
    else {
        return;
    };
    let anchor_key = children[anchor_at].format_key.clone();
    let anchor_signature = children[anchor_at].signature.clone();
    let anchor_schema = children[anchor_at].schema.clone();
    let mut accepted: Vec<Child<'a>> = Vec::new();
    let mut reasons = vec![origin];
    let mut warnings = Vec::new();
    let mut splits: Vec<(String, String, String, Vec<Entry<'a>>)> = Vec::new();
    for child in children {
        let Some(child_name) = child.name.clone() else {
            if anchor_signature.is_empty() {
                accepted.push(child);
            } else {
                for e in &child.entries {
                    unplaced.push(UnplacedFile {
                        relative: e.file.object.relative.clone(),
                        reason: format!(
                            "directly in {dir}/, which is partitioned by {}: it has no partition values, and scans \
                             read partitions only",
                            describe_signature(&anchor_signature)
                        ),
                    });
                }
            }
            continue;
        };
        let mismatch = if child.format_key != anchor_key {
            Some(format!("its files are {} where the table's are {}", child.format_key, anchor_key))
        } else if child.signature != anchor_signature {
            Some(format!(
                "its partition layout ({}) differs from the table's ({})",
                describe_signature(&child.signature),
                describe_signature(&anchor_signature)
            ))
        } else if !anchor_schema.is_compatible(&child.schema) {
            Some(format!(
                "its schema shares {} of its {} columns with the table's {}",
                anchor_schema.shared_names(&child.schema),
                child.schema.columns.len(),
                anchor_schema.columns.len()
            ))
        } else {
            None
        };
        match mismatch {
            None => accepted.push(child),
            Some(why) => {
                let child_dir = join(dir, &child_name);
                let child_table = format!("{name}_{}", sanitize(&child_name));
                reasons.push(format!("{child_dir}/ became its own table {child_table}: {why}"));
                if anchor_signature.is_empty() {
                    warnings.push(format!(
                        "{dir}/ is not partitioned, so its scans read {child_dir}/ too; move that folder or exclude it"
                    ));
                }
                let origin = format!("split from {name}: {why}");
                let entries = child
                    .entries
                    .into_iter()
                    .map(|mut e| {
                        e.skip += 1;
                        e
                    })
                    .collect();
                splits.push((child_dir, child_table, origin, entries));
            }
        }
    }
    if let Some(table) = assemble(dir, name, &anchor_signature, accepted, reasons, warnings) {
        tables.push(table);
    }
    for (child_dir, child_table, origin, entries) in splits {
        build_tables(&child_dir, &child_table, origin, entries, tables, unplaced);
    }
}

/// The files of one child folder that share its most common format and layout; the others are
/// unplaced with the reason.
fn agreeing_child<'a>(
    name: Option<String>,
    where_: &str,
    entries: Vec<Entry<'a>>,
    unplaced: &mut Vec<UnplacedFile>,
) -> Child<'a> {
    let mut tally: BTreeMap<(String, Signature), usize> = BTreeMap::new();
    for e in &entries {
        *tally.entry((e.file.class.format.table_key(), signature(e.levels()))).or_default() += 1;
    }
    let ((format_key, sig), _) = tally.into_iter().max_by_key(|(_, n)| *n).unwrap_or_default();
    let mut schema = MergedSchema::default();
    let mut kept = Vec::new();
    for e in entries {
        let key = e.file.class.format.table_key();
        let own = signature(e.levels());
        if key == format_key && own == sig {
            schema.merge_file(&e.file.object.relative, &e.file.class.columns);
            kept.push(e);
        } else {
            let reason = if key != format_key {
                format!("{key}, unlike the {format_key} files beside it in {where_}/; a table has one format")
            } else {
                format!(
                    "its partition layout ({}) differs from the other files' in {where_}/ ({})",
                    describe_signature(&own),
                    describe_signature(&sig)
                )
            };
            unplaced.push(UnplacedFile { relative: e.file.object.relative.clone(), reason });
        }
    }
    Child { name, format_key, signature: sig, schema, entries: kept }
}

/// The table from its accepted children: merged schema, typed keys, partitions and stats.
fn assemble(
    dir: &str,
    name: &str,
    signature: &Signature,
    children: Vec<Child<'_>>,
    mut reasons: Vec<String>,
    warnings: Vec<String>,
) -> Option<TableGroup> {
    let entries: Vec<Entry<'_>> = children.into_iter().flat_map(|c| c.entries).collect();
    let first = entries.first()?;
    let format = first.file.class.format.clone();
    let file_notes = first.file.class.notes.iter().map(|n| format!("{}: {n}", first.file.object.relative)).collect();
    let mut schema = MergedSchema::default();
    let mut layouts: Vec<Vec<String>> = Vec::new();
    // By address: the files (borrowed for the whole call) keep every class alive.
    let mut classes_seen: HashSet<*const FileClass> = HashSet::new();
    let mut stats = Stats::default();
    let mut partitions: BTreeMap<Vec<String>, FoundPartition> = BTreeMap::new();
    let depth = signature.len();
    for e in &entries {
        schema.merge_file(&e.file.object.relative, &e.file.class.columns);
        // Files share their class when their findings agree: compare column names once per class.
        if classes_seen.insert(Arc::as_ptr(&e.file.class)) {
            let names: Vec<String> = e.file.class.columns.iter().map(|c| c.name.to_lowercase()).collect();
            if !layouts.contains(&names) {
                layouts.push(names);
            }
        }
        stats.add(e.file);
        if depth > 0 {
            let values: Vec<String> = e.levels()[..depth].iter().map(|l| l.value.clone()).collect();
            let relative_dir = e.names()[..depth].join("/");
            partitions
                .entry(values.clone())
                .or_insert_with(|| FoundPartition { values, relative_dir, stats: Stats::default() })
                .stats
                .add(e.file);
        }
    }
    if layouts.len() > 1 {
        let added: Vec<String> = schema
            .columns
            .iter()
            .filter(|c| c.files < stats.files as usize)
            .take(4)
            .map(|c| format!("{} from {}", c.name, c.first_seen))
            .collect();
        let mut line = format!("{} schemas merged by name", layouts.len());
        if !added.is_empty() {
            line.push_str(&format!("; columns not in every file: {}", added.join(", ")));
        }
        reasons.push(line);
    }
    let key_names = key_names(signature);
    let mut partition_keys = Vec::new();
    for (i, key) in key_names.iter().enumerate() {
        let values: Vec<&str> = partitions.keys().map(|v| v[i].as_str()).collect();
        let (data_type, why) = key_type(key, &values);
        let source = if signature[i].is_some() { "Hive key=value folders" } else { "plain folders, named by level" };
        partition_keys.push(PartitionKey { name: key.clone(), data_type, reason: format!("{source}; {why}") });
    }
    if !partition_keys.is_empty() {
        reasons.push(format!(
            "partitioned by {} ({} partitions)",
            key_names.join(", "),
            crate::infer::format_count(partitions.len() as u64)
        ));
    }
    let word_nulls = entries.iter().any(|e| e.file.class.word_nulls);
    Some(TableGroup {
        name: name.to_string(),
        relative_dir: dir.to_string(),
        format,
        schema,
        partition_keys,
        partitions: partitions.into_values().collect(),
        stats,
        word_nulls,
        reasons,
        warnings,
        file_notes,
    })
}

fn join(dir: &str, child: &str) -> String {
    match (dir.is_empty(), child.is_empty()) {
        (true, _) => child.to_string(),
        (_, true) => dir.to_string(),
        _ => format!("{dir}/{child}"),
    }
}

/// A catalog name from a folder name: lower-case letters, digits and `_` (as Glue names tables).
pub fn sanitize(folder: &str) -> String {
    let mut name = String::new();
    for c in folder.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('_') {
            name.push('_');
        }
    }
    let name = name.trim_matches('_').to_string();
    match name.chars().next() {
        None => "table".to_string(),
        Some(c) if c.is_ascii_digit() => format!("t_{name}"),
        Some(_) => name,
    }
}
