//! Progress on a terminal: objects listed, files sampled, tables planned. Hidden bars cost
//! nothing, so the pipeline reports progress unconditionally and only this module decides
//! whether anything is drawn (never when stderr is not a terminal, so logs stay clean).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::options::ProgressMode;

/// The bars of one crawl; cheap to clone and share between tasks.
#[derive(Debug, Clone)]
pub struct CrawlProgress {
    bar: ProgressBar,
}

impl CrawlProgress {
    /// Drawn on stderr when `mode` allows it and stderr is a terminal; hidden otherwise.
    pub fn new(mode: ProgressMode) -> CrawlProgress {
        let visible = mode == ProgressMode::Auto && std::io::stderr().is_terminal();
        let bar = if visible {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        CrawlProgress { bar }
    }

    /// A progress that never draws (tests, library callers).
    pub fn hidden() -> CrawlProgress {
        CrawlProgress { bar: ProgressBar::hidden() }
    }

    /// Listing: a spinner counting objects, since the total is unknown until the end.
    pub fn start_listing(&self) {
        self.bar.set_style(spinner_style());
        self.bar.set_message("objects listed");
    }

    pub fn listed(&self, objects: u64) {
        self.bar.inc(objects);
    }

    /// Sampling: a bar over the files to classify.
    pub fn start_sampling(&self, files: u64) {
        self.bar.set_position(0);
        self.bar.set_length(files);
        self.bar.set_style(bar_style());
        self.bar.set_message("files sampled");
    }

    pub fn sampled(&self) {
        self.bar.inc(1);
    }

    /// Planning: one step per table.
    pub fn start_planning(&self, tables: u64) {
        self.bar.set_position(0);
        self.bar.set_length(tables);
        self.bar.set_message("tables planned");
    }

    pub fn planned(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar so the plan prints on a clean screen.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {pos} {msg} ({per_sec})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({eta})").unwrap_or_else(|_| ProgressStyle::default_bar())
}
