//! The web UI's tag filters: the profile's label keys and values, listed once
//! when the server starts, and the *Tags* menu that turns them into pprof's
//! tag options kept in the URL — `tf` (tagfocus) and `ti` (tagignore) on a
//! value, `ts` (tagshow), `th` (taghide), `tagroot` and `tagleaf` on a key.

use std::collections::HashMap;
use std::fmt::Write as _;

use rustprof_profile::Profile;

use super::http::Request;
use super::page::{VIEW_PARAMS, query_with};
use crate::report::flame::html_escape;

/// Most values listed per key (the heaviest).
pub const MAX_VALUES: usize = 100;

/// One value of a label key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagValue {
    /// As shown (`login`, `1024 bytes`).
    pub text: String,
    /// The tag filter selecting exactly this value (`endpoint=^login$`).
    pub filter: String,
    /// The sum of the default sample type over the samples with this value.
    pub weight: i64,
}

/// A label key and its values, heaviest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagKey {
    /// The key.
    pub key: String,
    /// Numeric labels (`bytes`...) rather than strings.
    pub numeric: bool,
    /// The heaviest [`MAX_VALUES`] values.
    pub values: Vec<TagValue>,
    /// How many values were left out.
    pub more: usize,
}

/// The profile's tags: keys in order of weight, then name.
#[derive(Clone, Debug, Default)]
pub struct Tags {
    /// The keys.
    pub keys: Vec<TagKey>,
    /// The sum of the default sample type over all samples (for percentages).
    pub total: i64,
}

/// A regexp matching exactly `value`, safe inside a tag filter (whose
/// regexps are separated by commas).
fn exact_regexp(value: &str) -> String {
    format!("^{}$", regex::escape(value).replace(',', "\\x2c"))
}

impl Tags {
    /// Lists the labels of `p`, weighted by sample type `si`.
    pub fn of(p: &Profile, si: usize) -> Tags {
        // Sum per label set first: there are far fewer sets than samples.
        let mut per_set: HashMap<u32, i64> = HashMap::new();
        let mut total = 0i64;
        for i in 0..p.samples.len() {
            let v = p.samples.values(i).get(si).copied().unwrap_or(0).wrapping_abs();
            total = total.wrapping_add(v);
            *per_set.entry(p.samples.label_set_id(i)).or_default() += v;
        }
        // key -> (numeric, value text -> (filter, weight)).
        let mut keys: Vec<(String, bool, Vec<TagValue>)> = Vec::new();
        let mut sets: Vec<(u32, i64)> = per_set.into_iter().collect();
        sets.sort_unstable();
        for (id, weight) in sets {
            for l in p.samples.label_set(id) {
                let key = p.str(l.key).to_string();
                let numeric = p.str(l.str).is_empty();
                let (text, filter) = if numeric {
                    let unit = p.str(l.num_unit);
                    let text = if unit.is_empty() { l.num.to_string() } else { format!("{} {unit}", l.num) };
                    (text, format!("{key}={}{unit}", l.num))
                } else {
                    let v = p.str(l.str).to_string();
                    let filter = format!("{key}={}", exact_regexp(&v));
                    (v, filter)
                };
                let i = match keys.iter().position(|(k, _, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        keys.push((key.clone(), numeric, Vec::new()));
                        keys.len() - 1
                    }
                };
                let vals = &mut keys[i].2;
                match vals.iter_mut().find(|t| t.text == text) {
                    Some(t) => t.weight = t.weight.wrapping_add(weight),
                    None => vals.push(TagValue { text, filter, weight }),
                }
            }
        }
        let mut out: Vec<TagKey> = keys
            .into_iter()
            .map(|(key, numeric, mut values)| {
                values.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.text.cmp(&b.text)));
                let more = values.len().saturating_sub(MAX_VALUES);
                values.truncate(MAX_VALUES);
                TagKey { key, numeric, values, more }
            })
            .collect();
        let weight = |k: &TagKey| k.values.iter().map(|v| v.weight).fold(0i64, i64::wrapping_add);
        out.sort_by(|a, b| weight(b).cmp(&weight(a)).then_with(|| a.key.cmp(&b.key)));
        Tags { keys: out, total }
    }
}

/// `key` added to the comma-separated list `cur` (tagroot, tagleaf), or
/// `cur` itself when it is there already.
fn add_key(cur: &str, key: &str) -> String {
    if cur.split(',').any(|k| k == key) {
        cur.to_string()
    } else if cur.is_empty() {
        key.to_string()
    } else {
        format!("{cur},{key}")
    }
}

/// The *Tags* menu of a page of `view`; empty when the profile has no labels.
pub fn menu(tags: &Tags, req: &Request, view: &str) -> String {
    if tags.keys.is_empty() {
        return String::new();
    }
    let link = |param: &str, value: &str| {
        html_escape(&format!("./{view}{}", query_with(req, VIEW_PARAMS, &[(param, value)])))
    };
    let mut h = String::from(
        "<div class=\"rp-menu\" id=\"rp-tags\"><button type=\"button\" class=\"rp-menu-name\" \
         title=\"Filter by the samples' labels\">Tags</button><div class=\"rp-sub rp-tags-sub\">\n",
    );
    for k in &tags.keys {
        let re = exact_regexp(&k.key);
        let root = add_key(req.param("tagroot").unwrap_or(""), &k.key);
        let leaf = add_key(req.param("tagleaf").unwrap_or(""), &k.key);
        let _ = writeln!(
            h,
            "<div class=\"rp-tag-key\" data-key=\"{}\"><span class=\"rp-tag-name\">{}</span>\
             <a href=\"{}\" class=\"rp-tag-act\" data-act=\"ts\" title=\"tagshow: show only this key's labels\">show</a>\
             <a href=\"{}\" class=\"rp-tag-act\" data-act=\"th\" title=\"taghide: hide this key's labels\">hide</a>\
             <a href=\"{}\" class=\"rp-tag-act\" data-act=\"tagroot\" title=\"tagroot: a frame per value at the root of the stacks\">root</a>\
             <a href=\"{}\" class=\"rp-tag-act\" data-act=\"tagleaf\" title=\"tagleaf: a frame per value at the leaf of the stacks\">leaf</a></div>",
            html_escape(&k.key),
            html_escape(&k.key),
            link("ts", &re),
            link("th", &re),
            link("tagroot", &root),
            link("tagleaf", &leaf),
        );
        for v in &k.values {
            let pct = crate::measurement::percentage(v.weight, tags.total);
            let _ = writeln!(
                h,
                "<div class=\"rp-tag-value\" data-key=\"{}\" data-value=\"{}\"><span class=\"rp-tag-text\">{}</span>\
                 <span class=\"rp-tag-pct\">{}</span>\
                 <a href=\"{}\" class=\"rp-tag-act\" data-act=\"tf\" title=\"tagfocus: keep only samples with this value\">focus</a>\
                 <a href=\"{}\" class=\"rp-tag-act\" data-act=\"ti\" title=\"tagignore: drop samples with this value\">ignore</a></div>",
                html_escape(&k.key),
                html_escape(&v.text),
                html_escape(&v.text),
                html_escape(pct.trim()),
                link("tf", &v.filter),
                link("ti", &v.filter),
            );
        }
        if k.more > 0 {
            let _ = writeln!(h, "<div class=\"rp-tag-more\">and {} more values</div>", k.more);
        }
    }
    h.push_str("</div></div>\n");
    h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn filters_select_exactly_one_value() {
        assert_eq!(exact_regexp("a.b,c"), "^a\\.b\\x2cc$");
        let re = regex::Regex::new(&exact_regexp("a.b,c")).unwrap();
        assert!(re.is_match("a.b,c") && !re.is_match("axb,c") && !re.is_match("a.b,cd"));
        assert_eq!(add_key("", "k"), "k");
        assert_eq!(add_key("a,k", "k"), "a,k");
        assert_eq!(add_key("a", "k"), "a,k");
    }
}
