//! The entry point `tarn crawl` calls: one function from options to a report, plus the report's
//! text and JSON forms, so the command line only parses flags and prints.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tarn_catalog::{Catalog, Location, StoreRegistry};

use crate::apply::{apply_plan, ApplySummary};
use crate::classify::classify_all;
use crate::error::{CrawlError, Result};
use crate::group::{group_tables, GroupOptions};
use crate::known::{self, KnownObjects, KnownUpdate};
use crate::list::{list_objects, ExcludeSet, Listing};
use crate::options::CrawlOptions;
use crate::plan::{build_plan, CrawlPlan, PlanInputs};
use crate::progress::CrawlProgress;
use crate::render;

/// What one crawl did: the plan, and what applying it changed (`None` for a dry run).
#[derive(Debug, Clone)]
pub struct CrawlReport {
    pub plan: CrawlPlan,
    pub applied: Option<ApplySummary>,
    pub elapsed: Duration,
}

impl CrawlReport {
    /// The plan, then the summary of what was applied.
    pub fn render_text(&self) -> String {
        let mut text = render::plan_text(&self.plan);
        if let Some(summary) = &self.applied {
            text.push('\n');
            text.push_str(&render::summary_text(summary));
        }
        text
    }

    /// `{"plan": ..., "applied": ... | null, "elapsed_ms": ...}`.
    pub fn to_json(&self) -> Value {
        json!({
            "plan": render::plan_json(&self.plan),
            "applied": self.applied.as_ref().map(render::summary_json),
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }
}

/// Crawls `options.url` into `options.database`: list, classify, group, plan, and unless
/// `dry_run`, apply the plan in one catalog transaction. S3 access comes from `stores` (the
/// standard AWS configuration and `AWS_ENDPOINT_URL`), local folders need nothing.
pub async fn run_crawl(catalog: &Catalog, stores: &StoreRegistry, options: &CrawlOptions) -> Result<CrawlReport> {
    let started = Instant::now();
    options.validate()?;
    let excludes = ExcludeSet::new(&options.excludes)?;
    let root = Location::parse(&options.url)?.as_dir();
    let store = stores.store_for(&root).await?;
    let progress = CrawlProgress::new(options.progress);

    progress.start_listing();
    let root_path = root.object_path();
    let listing = list_objects(store.as_ref(), &root_path, &excludes, options.concurrency, &progress).await;
    let listing = match listing {
        Ok(listing) => listing,
        Err(e) => {
            progress.finish();
            return Err(e);
        }
    };
    let objects_listed = (listing.objects.len() + listing.skipped.len()) as u64;
    if objects_listed == 0 {
        progress.finish();
        return Err(CrawlError::NothingFound(root.as_url_str()));
    }

    let root_url = root.as_url_str();
    let sampled_with = known::sampled_with(options.sample_rows);
    let mut known = match KnownObjects::load(catalog, &root_url, &sampled_with) {
        Ok(known) => known,
        Err(e) => {
            progress.finish();
            return Err(e);
        }
    };
    progress.start_sampling(listing.objects.len() as u64);
    let found = classify_all(
        &store,
        &root_path,
        listing.objects,
        options.sample_rows,
        options.concurrency,
        &progress,
        &mut known,
    )
    .await;
    let mut classified = found.classified;

    let root_name = root_path.parts().next_back().map(|p| p.as_ref().to_string()).unwrap_or_else(|| "root".into());
    let group_options =
        GroupOptions { table_level: options.table_level, table_prefix: options.table_prefix.to_lowercase(), root_name };
    let (groups, unplaced) = group_tables(&classified, &group_options);
    progress.start_planning(groups.len() as u64);
    let inputs = PlanInputs {
        root: &root,
        database: &options.database,
        dry_run: options.dry_run,
        delete_behavior: options.delete_behavior,
        objects_listed,
        objects_read: found.read,
        objects_reused: found.reused,
        skipped: listing.skipped,
        unclassified: found.unclassified,
        unplaced,
    };
    let plan = build_plan(catalog, groups, inputs);
    progress.finish();
    let mut plan = plan?;
    let unlisted: Vec<&str> = Listing::unlisted_folders(&plan.skipped).collect();
    let (interner, removed) = known.into_removed(&unlisted);
    classified.retain(|file| file.fresh);
    plan.known = KnownUpdate { source: root_url, sampled_with, files: classified, removed, interner };
    let applied = if options.dry_run { None } else { Some(apply_plan(catalog, &plan)?) };
    Ok(CrawlReport { plan, applied, elapsed: started.elapsed() })
}
