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
    /// As shown (`login`, `1kB`).
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

/// Per value text: its filter and its weight.
type ValueWeights = HashMap<String, (String, i64)>;

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
        // key -> (numeric, value text -> (filter, weight)); hashed, as a key
        // may have a value per sample (request ids...).
        let units = crate::labels::num_label_units(p).0;
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut keys: Vec<(String, bool, ValueWeights)> = Vec::new();
        let mut sets: Vec<(u32, i64)> = per_set.into_iter().collect();
        sets.sort_unstable();
        for (id, weight) in sets {
            for l in p.samples.label_set(id) {
                let key = p.str(l.key);
                let numeric = l.is_num();
                let (text, filter) = if numeric {
                    // In the key's unit (pprof's NumLabelUnits), which the
                    // filter needs: a bare number matches nothing.
                    let unit = units.get(key).map(String::as_str).unwrap_or("");
                    let text = crate::measurement::label(l.num, unit);
                    (text, format!("{key}={}{unit}", l.num))
                } else {
                    let v = p.str(l.str).to_string();
                    let filter = format!("{key}={}", exact_regexp(&v));
                    (v, filter)
                };
                let i = *index.entry(key.to_string()).or_insert_with(|| {
                    keys.push((key.to_string(), numeric, HashMap::new()));
                    keys.len() - 1
                });
                let e = keys[i].2.entry(text).or_insert((filter, 0));
                e.1 = e.1.wrapping_add(weight);
            }
        }
        let mut out: Vec<(TagKey, i64)> = keys
            .into_iter()
            .map(|(key, numeric, values)| {
                let mut values: Vec<TagValue> = values
                    .into_iter()
                    .map(|(text, (filter, weight))| TagValue { text, filter, weight })
                    .collect();
                values.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.text.cmp(&b.text)));
                let weight = values.iter().map(|v| v.weight).fold(0i64, i64::wrapping_add);
                let more = values.len().saturating_sub(MAX_VALUES);
                values.truncate(MAX_VALUES);
                (TagKey { key, numeric, values, more }, weight)
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.key.cmp(&b.0.key)));
        Tags { keys: out.into_iter().map(|(k, _)| k).collect(), total }
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

    #[test]
    fn keys_and_values_by_weight() {
        let mut b = rustprof_profile::ProfileBuilder::new(&[("alloc", "bytes")]);
        for i in 0..(MAX_VALUES as i64 + 20) {
            let id = b.label_str("request", &format!("r{i}"));
            let ep = b.label_str("endpoint", if i % 3 == 0 { "search" } else { "login" });
            b.add_sample(&[], &[i + 1], &[id, ep]);
        }
        let n = b.label_num("bytes", 64, "bytes");
        b.add_sample(&[], &[1], &[n]);
        let tags = Tags::of(&b.build(), 0);
        let keys: Vec<&str> = tags.keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["endpoint", "request", "bytes"]);
        let ep = &tags.keys[0];
        assert_eq!(ep.values.iter().map(|v| v.text.as_str()).collect::<Vec<_>>(), ["login", "search"]);
        assert_eq!(ep.values[0].filter, "endpoint=^login$");
        assert_eq!(ep.values.iter().map(|v| v.weight).sum::<i64>() + 1, tags.total);
        let req = &tags.keys[1];
        assert_eq!((req.values.len(), req.more), (MAX_VALUES, 20));
        assert_eq!(req.values[0].text, format!("r{}", MAX_VALUES + 19));
        let bytes = &tags.keys[2];
        assert!(bytes.numeric);
        assert_eq!(
            (bytes.values[0].text.as_str(), bytes.values[0].filter.as_str()),
            ("64B", "bytes=64bytes")
        );
    }
}
