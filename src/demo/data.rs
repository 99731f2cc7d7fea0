//! The demo's web-analytics data: users, their sessions with a marketing channel and a timestamp,
//! and the few sessions that bought something. Pseudo-random but fixed by one seed, so every
//! machine writes the same bytes and the demo's answers can be written down.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};

/// The marketing channels, with how often each brings a session (out of 100).
pub const CHANNELS: [(&str, u64); 6] =
    [("Youtube", 20), ("Google", 25), ("Facebook", 15), ("Naver", 15), ("Organic", 15), ("Instagram", 10)];

/// 2019-05 to 2019-11, with each month's share of the sessions (out of 100): traffic grows.
pub const MONTHS: [(i32, u32, u64); 7] =
    [(2019, 5, 11), (2019, 6, 12), (2019, 7, 13), (2019, 8, 14), (2019, 9, 15), (2019, 10, 17), (2019, 11, 18)];

pub const USERS: u32 = 1_000;
pub const SESSIONS: u64 = 100_000;
const SEED: u64 = 0x7461_726e_2019_0501;

/// One visit.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSession {
    pub session_id: String,
    pub user_id: u32,
    pub channel: &'static str,
    pub ts: NaiveDateTime,
    pub month_index: usize,
}

/// A purchase made in a session.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub session_id: String,
    pub refunded: bool,
    pub amount: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoData {
    /// In time order.
    pub sessions: Vec<WebSession>,
    pub transactions: Vec<Transaction>,
}

/// SplitMix64: a tiny generator with good statistics, so the demo needs no `rand` crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (the modulo bias is irrelevant at these bounds).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn percent(&mut self) -> u64 {
        self.below(100)
    }

    /// An index into `weights`, picked in proportion to the weights (which sum to 100).
    fn weighted(&mut self, weights: impl Iterator<Item = u64>) -> usize {
        let mut roll = self.percent();
        let weights: Vec<u64> = weights.collect();
        for (index, weight) in weights.iter().enumerate() {
            if roll < *weight {
                return index;
            }
            roll -= weight;
        }
        weights.len() - 1
    }
}

/// A user is active from one month to a later one, and mostly arrives through one channel.
struct User {
    id: u32,
    first_month: usize,
    last_month: usize,
    channel: usize,
}

pub fn generate() -> DemoData {
    let mut rng = SplitMix64(SEED);
    let users: Vec<User> = (1..=USERS)
        .map(|id| {
            // The smaller of two rolls: more users started early, so later months show churn too.
            let first_month = rng.below(MONTHS.len() as u64).min(rng.below(MONTHS.len() as u64)) as usize;
            let last_month = first_month + rng.below((MONTHS.len() - first_month) as u64) as usize;
            let channel = rng.weighted(CHANNELS.iter().map(|(_, weight)| *weight));
            User { id, first_month, last_month, channel }
        })
        .collect();

    let mut sessions = Vec::with_capacity(SESSIONS as usize);
    let mut transactions = Vec::new();
    for (month_index, &(year, month, share)) in MONTHS.iter().enumerate() {
        let active: Vec<&User> =
            users.iter().filter(|user| (user.first_month..=user.last_month).contains(&month_index)).collect();
        let start = NaiveDate::from_ymd_opt(year, month, 1).and_then(|day| day.and_hms_opt(0, 0, 0));
        // Invariant: MONTHS holds valid calendar months.
        let start = start.expect("MONTHS are valid dates");
        let seconds_in_month = (next_month(start.date()) - start.date()).num_seconds() as u64;
        let mut month_sessions: Vec<WebSession> = (0..SESSIONS * share / 100)
            .map(|_| {
                let user = active[rng.below(active.len() as u64) as usize];
                let channel = if rng.percent() < 70 {
                    user.channel
                } else {
                    rng.weighted(CHANNELS.iter().map(|(_, weight)| *weight))
                };
                let offset = Duration::seconds(rng.below(seconds_in_month) as i64)
                    + Duration::milliseconds(rng.below(1000) as i64);
                WebSession {
                    session_id: format!("{:016x}{:016x}", rng.next(), rng.next()),
                    user_id: user.id,
                    channel: CHANNELS[channel].0,
                    ts: start + offset,
                    month_index,
                }
            })
            .collect();
        month_sessions.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.session_id.cmp(&b.session_id)));
        for session in &month_sessions {
            if rng.percent() < 5 {
                transactions.push(Transaction {
                    session_id: session.session_id.clone(),
                    refunded: rng.percent() < 5,
                    amount: 10 + rng.below(991) as u32,
                });
            }
        }
        sessions.extend(month_sessions);
    }
    DemoData { sessions, transactions }
}

fn next_month(day: NaiveDate) -> NaiveDate {
    let (year, month) = if day.month() == 12 { (day.year() + 1, 1) } else { (day.year(), day.month() + 1) };
    // Invariant: the first of any month that follows a valid date is valid.
    NaiveDate::from_ymd_opt(year, month, 1).expect("first of a month is a valid date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_data_and_expected_shape() {
        let data = generate();
        assert_eq!(data, generate());
        assert_eq!(data.sessions.len() as u64, SESSIONS);
        let ids: HashSet<&str> = data.sessions.iter().map(|s| s.session_id.as_str()).collect();
        assert_eq!(ids.len(), data.sessions.len(), "session ids are unique");
        assert!(data.sessions.iter().all(|s| s.session_id.len() == 32));
        assert!(data.sessions.windows(2).all(|pair| pair[0].ts <= pair[1].ts), "sessions are in time order");
        let first = data.sessions.first().unwrap().ts;
        let last = data.sessions.last().unwrap().ts;
        assert!(first >= NaiveDate::from_ymd_opt(2019, 5, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
        assert!(last < NaiveDate::from_ymd_opt(2019, 12, 1).unwrap().and_hms_opt(0, 0, 0).unwrap());
        // About 5% of sessions buy, about 5% of purchases are refunded.
        let bought = data.transactions.len();
        assert!((4_500..5_500).contains(&bought), "{bought} transactions");
        let refunded = data.transactions.iter().filter(|t| t.refunded).count();
        assert!((150..350).contains(&refunded), "{refunded} refunds");
        assert!(data.transactions.iter().all(|t| (10..=1000).contains(&t.amount)));
        let users: HashSet<u32> = data.sessions.iter().map(|s| s.user_id).collect();
        assert!(users.len() > 900 && users.iter().all(|id| (1..=USERS).contains(id)));
        let channels: HashSet<&str> = data.sessions.iter().map(|s| s.channel).collect();
        assert_eq!(channels.len(), CHANNELS.len());
    }
}
