//! Fetching profiles over HTTP (pprof's `fetchURL`).

use rustprof_profile::Profile;

use crate::driver::{Source, Ui};

/// Fetches a profile from `url` within `timeout` seconds.
pub fn fetch_url(url: &str, _timeout: u64, _s: &Source, _ui: &mut dyn Ui) -> Result<Profile, String> {
    Err(format!("http fetch: fetching {url} is not supported yet"))
}
