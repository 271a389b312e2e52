//! A sample's labels as pprof sees them: string labels grouped by key (values in
//! order), numeric labels grouped by key with their units. Labels with neither a
//! string, a number nor a unit do not exist for pprof.

use std::collections::HashMap;

use rustprof_profile::{Label, Profile};

/// The labels of one label set.
#[derive(Clone, Debug, Default)]
pub struct LabelView {
    /// String labels: key → values, keys in first-appearance order.
    pub strs: Vec<(String, Vec<String>)>,
    /// Numeric labels: key → (values, units); units empty when none had a unit,
    /// else padded with "" to the values' length.
    pub nums: Vec<(String, Vec<i64>, Vec<String>)>,
}

impl LabelView {
    /// Groups `labels` by key.
    pub fn new(p: &Profile, labels: &[Label]) -> Self {
        let mut v = LabelView::default();
        for l in labels {
            let key = p.str(l.key);
            if l.is_str() {
                let val = p.str(l.str).to_string();
                match v.strs.iter_mut().find(|(k, _)| k == key) {
                    Some((_, vals)) => vals.push(val),
                    None => v.strs.push((key.to_string(), vec![val])),
                }
            } else if l.is_num() {
                let idx = match v.nums.iter().position(|(k, _, _)| k == key) {
                    Some(i) => i,
                    None => {
                        v.nums.push((key.to_string(), Vec::new(), Vec::new()));
                        v.nums.len() - 1
                    }
                };
                let (_, nums, units) = &mut v.nums[idx];
                if !l.num_unit.is_empty() {
                    while units.len() < nums.len() {
                        units.push(String::new());
                    }
                    units.push(p.str(l.num_unit).to_string());
                }
                nums.push(l.num);
            }
        }
        for (_, nums, units) in &mut v.nums {
            if !units.is_empty() {
                while units.len() < nums.len() {
                    units.push(String::new());
                }
            }
        }
        v
    }

    /// Values of string label `key`.
    pub fn str_values(&self, key: &str) -> Option<&Vec<String>> {
        self.strs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Values and units of numeric label `key`.
    pub fn num_values(&self, key: &str) -> Option<(&Vec<i64>, &Vec<String>)> {
        self.nums.iter().find(|(k, _, _)| k == key).map(|(_, v, u)| (v, u))
    }
}

/// One view per label set id of the profile (index = id).
pub fn views(p: &Profile) -> Vec<LabelView> {
    (0..=p.samples.label_sets() as u32).map(|id| LabelView::new(p, p.samples.label_set(id))).collect()
}

/// Per numeric label key, the units seen besides the one used.
pub type IgnoredUnits = Vec<(String, Vec<String>)>;

/// pprof's `NumLabelUnits`: per numeric key the first unit seen (else `bytes` for
/// `alignment`/`request`, else the key itself), and per key the other units seen.
pub fn num_label_units(p: &Profile) -> (HashMap<String, String>, IgnoredUnits) {
    let mut units: HashMap<String, String> = HashMap::new();
    let mut ignored: Vec<(String, Vec<String>)> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    let mut seen_sets = vec![false; p.samples.label_sets() + 1];
    for i in 0..p.samples.len() {
        let id = p.samples.label_set_id(i) as usize;
        if seen_sets[id] {
            continue;
        }
        seen_sets[id] = true;
        for l in p.samples.label_set(id as u32) {
            if !l.is_num() {
                continue;
            }
            let key = p.str(l.key);
            if !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
            let unit = p.str(l.num_unit);
            if unit.is_empty() {
                continue;
            }
            match units.get(key) {
                None => {
                    units.insert(key.to_string(), unit.to_string());
                }
                Some(want) if want != unit => match ignored.iter_mut().find(|(k, _)| k == key) {
                    Some((_, us)) => {
                        if !us.iter().any(|u| u == unit) {
                            us.push(unit.to_string());
                        }
                    }
                    None => ignored.push((key.to_string(), vec![unit.to_string()])),
                },
                _ => {}
            }
        }
    }
    for key in keys {
        if units.get(&key).is_none_or(|u| u.is_empty()) {
            let u = match key.as_str() {
                "alignment" | "request" => "bytes".to_string(),
                _ => key.clone(),
            };
            units.insert(key, u);
        }
    }
    for (_, us) in &mut ignored {
        us.sort();
    }
    ignored.sort();
    (units, ignored)
}
