//! `proto` (the processed profile, gzip profile.proto) and `topproto` (the top
//! nodes as a profile with `cum` and `flat` values).

use rustprof_profile::{Function, Line, Location, Profile, Samples, ValueType};

use super::Report;
use crate::measurement;

/// `proto`: the profile with `divide_by` applied.
pub fn print_proto(rpt: &mut Report) -> Vec<u8> {
    let r = rpt.opts.ratio;
    if r > 0.0 && r != 1.0 {
        for v in rpt.prof.samples.all_values_mut() {
            *v = (*v as f64 * r) as i64;
        }
    }
    rustprof_profile::encode_as_pprof(&rpt.prof)
}

/// `topproto`.
pub fn print_top_proto(rpt: &mut Report) -> Vec<u8> {
    let (strs, g, _, _, _) = rpt.new_trimmed_graph();
    rpt.select_output_unit(&g);
    let o = &rpt.opts;
    let p = &rpt.prof;
    let mut out = Profile::new();
    let cum = out.strings.intern("cum");
    let flat = out.strings.intern("flat");
    let unit = out.strings.intern(&o.output_unit);
    out.sample_types = vec![ValueType { ty: cum, unit }, ValueType { ty: flat, unit }];
    out.samples = Samples::new(2);
    out.time_nanos = p.time_nanos;
    out.duration_nanos = p.duration_nanos;
    out.period_type = ValueType {
        ty: out.strings.intern(p.str(p.period_type.ty)),
        unit: out.strings.intern(p.str(p.period_type.unit)),
    };
    out.period = p.period;
    let mut fmap: std::collections::HashMap<(u32, u32, u32, i64), u32> = std::collections::HashMap::new();
    for (i, &n) in g.nodes.iter().enumerate() {
        let node = g.node(n);
        let info = node.info;
        let key = (info.name, info.orig_name, info.file, info.start_line);
        let fidx = match fmap.get(&key) {
            Some(&f) => f,
            None => {
                let f = out.functions.len() as u32;
                let name = out.strings.intern(strs.get(info.name));
                let system_name = out.strings.intern(strs.get(info.orig_name));
                let filename = out.strings.intern(strs.get(info.file));
                out.functions.push(Function {
                    id: f as u64 + 1,
                    name,
                    system_name,
                    filename,
                    start_line: info.start_line,
                });
                fmap.insert(key, f);
                f
            }
        };
        let start = out.lines.len() as u32;
        out.lines.push(Line { function: fidx, line: info.lineno, column: info.columnno });
        out.locations.push(Location {
            id: i as u64 + 1,
            mapping: None,
            address: info.address,
            lines_start: start,
            lines_end: start + 1,
            is_folded: false,
        });
        let (fv, _) = measurement::scale(node.flat_value(), &o.sample_unit, &o.output_unit);
        let (cv, _) = measurement::scale(node.cum_value(), &o.sample_unit, &o.output_unit);
        out.samples.push(&[i as u32], &[cv as i64, fv as i64], &[]);
    }
    rustprof_profile::encode_as_pprof(&out)
}
