//! The flame graph's data (`FlameTree::to_json`) decoded into a tree.

use std::collections::HashMap;

use super::json::{self, Json};

/// A frame of the decoded tree.
#[derive(Debug)]
pub struct Frame {
    pub name: String,
    pub pos: i64,
    pub neg: i64,
    pub self_pos: i64,
    pub self_neg: i64,
    pub cut: bool,
    pub kids: Vec<usize>,
}

/// The flame graph data of a `-flame` file.
pub struct Flame {
    pub data: Json,
    pub frames: Vec<Frame>,
}

impl Flame {
    pub fn from_html(html: &str) -> Flame {
        let start_tag = "<script type=\"application/json\" id=\"fg-data\">";
        let start = html.find(start_tag).expect("the data") + start_tag.len();
        let end = start + html[start..].find("</script>").unwrap();
        Flame::from_json(&html[start..end])
    }

    pub fn from_json(text: &str) -> Flame {
        let data = json::parse(text).unwrap();
        let names: Vec<String> = data
            .get("names")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        let mean = data.get("mean").unwrap().as_bool().unwrap();
        let nums: Vec<i64> = data
            .get("nodes")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_f64().unwrap() as i64)
            .collect();
        let mut frames: Vec<Frame> = Vec::new();
        let mut stack: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < nums.len() {
            let mut f = Frame {
                name: names[nums[i] as usize].clone(),
                pos: nums[i + 1],
                neg: nums[i + 2],
                self_pos: nums[i + 3],
                self_neg: nums[i + 4],
                cut: false,
                kids: Vec::new(),
            };
            i += 5;
            if mean {
                i += 2;
            }
            let mut k = nums[i];
            i += 1;
            if k < 0 {
                k = -k - 1;
                f.cut = true;
            }
            let id = frames.len();
            frames.push(f);
            if let Some(top) = stack.last_mut() {
                let parent = top.0;
                top.1 -= 1;
                if top.1 == 0 {
                    stack.pop();
                }
                frames[parent].kids.push(id);
            }
            if k > 0 {
                stack.push((id, k as usize));
            }
        }
        assert!(stack.is_empty(), "truncated node list");
        Flame { data, frames }
    }

    pub fn total(&self) -> i64 {
        self.data.get("total").unwrap().as_f64().unwrap() as i64
    }

    /// Per name: the sum of self values, and of frames not under a frame of
    /// the same name (the cumulative value: each stack once).
    pub fn per_name(&self) -> HashMap<String, (i64, i64)> {
        let mut out: HashMap<String, (i64, i64)> = HashMap::new();
        let mut stack: Vec<(usize, Vec<String>)> = vec![(0, Vec::new())];
        while let Some((f, above)) = stack.pop() {
            let fr = &self.frames[f];
            let e = out.entry(fr.name.clone()).or_default();
            e.0 += fr.self_pos - fr.self_neg;
            if !above.contains(&fr.name) {
                e.1 += fr.pos - fr.neg;
            }
            let mut below = above.clone();
            below.push(fr.name.clone());
            for &k in &fr.kids {
                stack.push((k, below.clone()));
            }
        }
        out
    }
}
