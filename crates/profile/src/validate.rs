//! Consistency checks of an in-memory [`Profile`].
//!
//! A decoded profile is valid by construction (the decoder checks as it goes, with
//! byte offsets); `validate` is for profiles that were built or changed in memory.

use hashbrown::HashSet;

use crate::error::{Problem, ValidationError};
use crate::model::Profile;
use crate::strings::StrId;

fn verr(message: &'static str, field: &'static str, index: usize, problem: Problem) -> ValidationError {
    ValidationError { message, field, index, problem }
}

/// Checks that every index refers to an existing entry, every string index is in
/// range, each sample has one value per sample type, and ids are non-zero and
/// unique in each table.
pub fn validate(p: &Profile) -> Result<(), ValidationError> {
    let nstr = p.strings.len();
    if nstr == 0 {
        return Err(verr("Profile", "string_table", 0, Problem::NoStringTable));
    }
    if !p.strings.get(StrId::EMPTY).is_empty() {
        return Err(verr("Profile", "string_table", 0, Problem::FirstStringNotEmpty));
    }
    let s = |id: StrId, message, field, index| {
        if p.strings.contains(id) {
            Ok(())
        } else {
            Err(verr(message, field, index, Problem::StringIndex { index: id.0 as u64, len: nstr }))
        }
    };
    for (i, vt) in p.sample_types.iter().enumerate() {
        s(vt.ty, "ValueType", "type", i)?;
        s(vt.unit, "ValueType", "unit", i)?;
    }
    s(p.period_type.ty, "Profile", "period_type.type", 0)?;
    s(p.period_type.unit, "Profile", "period_type.unit", 0)?;
    s(p.drop_frames, "Profile", "drop_frames", 0)?;
    s(p.keep_frames, "Profile", "keep_frames", 0)?;
    s(p.default_sample_type, "Profile", "default_sample_type", 0)?;
    s(p.doc_url, "Profile", "doc_url", 0)?;
    for (i, &c) in p.comments.iter().enumerate() {
        s(c, "Profile", "comment", i)?;
    }

    let ntypes = p.sample_types.len();
    if !p.samples.is_empty() && ntypes == 0 {
        return Err(verr("Profile", "sample_type", 0, Problem::NoSampleTypes));
    }
    if p.samples.n_values() != ntypes {
        return Err(verr(
            "Sample",
            "value",
            0,
            Problem::ValueCount { found: p.samples.n_values(), expected: ntypes },
        ));
    }
    let nloc = p.locations.len();
    for (i, smp) in p.samples.iter().enumerate() {
        for &l in smp.locations {
            if l as usize >= nloc {
                return Err(verr(
                    "Sample",
                    "location_id",
                    i,
                    Problem::IndexOutOfRange { index: l as u64, len: nloc },
                ));
            }
        }
        for lab in smp.labels {
            s(lab.key, "Label", "key", i)?;
            s(lab.str, "Label", "str", i)?;
            s(lab.num_unit, "Label", "num_unit", i)?;
        }
    }

    let mut ids = HashSet::with_capacity(p.mappings.len());
    for (i, m) in p.mappings.iter().enumerate() {
        unique(&mut ids, m.id, "Mapping", i)?;
        s(m.filename, "Mapping", "filename", i)?;
        s(m.build_id, "Mapping", "build_id", i)?;
    }
    let mut ids = HashSet::with_capacity(p.functions.len());
    for (i, f) in p.functions.iter().enumerate() {
        unique(&mut ids, f.id, "Function", i)?;
        s(f.name, "Function", "name", i)?;
        s(f.system_name, "Function", "system_name", i)?;
        s(f.filename, "Function", "filename", i)?;
    }
    let mut ids = HashSet::with_capacity(p.locations.len());
    let nfun = p.functions.len();
    for (i, loc) in p.locations.iter().enumerate() {
        unique(&mut ids, loc.id, "Location", i)?;
        if let Some(m) = loc.mapping
            && m as usize >= p.mappings.len()
        {
            return Err(verr(
                "Location",
                "mapping_id",
                i,
                Problem::IndexOutOfRange { index: m as u64, len: p.mappings.len() },
            ));
        }
        if loc.lines_start > loc.lines_end || loc.lines_end as usize > p.lines.len() {
            return Err(verr(
                "Location",
                "line",
                i,
                Problem::IndexOutOfRange { index: loc.lines_end as u64, len: p.lines.len() },
            ));
        }
        for line in &p.lines[loc.lines_start as usize..loc.lines_end as usize] {
            if line.function as usize >= nfun {
                return Err(verr(
                    "Line",
                    "function_id",
                    i,
                    Problem::IndexOutOfRange { index: line.function as u64, len: nfun },
                ));
            }
        }
    }
    Ok(())
}

fn unique(ids: &mut HashSet<u64>, id: u64, message: &'static str, i: usize) -> Result<(), ValidationError> {
    if id == 0 {
        return Err(verr(message, "id", i, Problem::ZeroId));
    }
    if !ids.insert(id) {
        return Err(verr(message, "id", i, Problem::DuplicateId(id)));
    }
    Ok(())
}
