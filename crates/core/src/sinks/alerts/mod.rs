//! Alerts without AWS: the rules file, per-source window accumulation,
//! mergeable sketches, rule evaluation and notification content.
//!
//! The flow: [`Windows`] sees every finished record of a source and yields
//! one [`Contribution`] per minute (stored as one item per (minute, source),
//! so a redelivered source overwrites instead of double counting); the
//! evaluator adds the items of the minutes [`minutes_needed`] into
//! [`WindowSums`] and calls [`evaluate`]; state transitions become
//! [`Notification`]s through [`notify`]. Instant rules skip the windows:
//! [`Windows::instant_matches`] and [`notify_instant`].

mod eval;
mod notify;
mod rules;
mod sketch;
mod window;

#[cfg(test)]
mod tests;

pub use eval::{Evaluation, WindowSums, evaluate, minutes_needed};
pub use notify::{
    MAX_SUBJECT_CHARS, Notification, Transition, athena_query, notify, notify_instant,
};
pub use rules::{
    Condition, Filter, Kind, MAX_ABSENCE_MINUTES, Rule, Rules, RulesError, Settings, Severity,
    StatusValue, WINDOW_MINUTES, field_by_name,
};
pub use sketch::{Histogram, Hll, MIN_TRACKED_MS, RELATIVE_ERROR, hash64, quantile_rank};
pub use window::{
    Business, Contribution, GroupKey, InstantKey, MAX_EXAMPLE_BYTES, MAX_EXAMPLES, MAX_GROUPS,
    NO_VALUE, OTHER_VALUE, Stats, Windows, instant_key,
};
