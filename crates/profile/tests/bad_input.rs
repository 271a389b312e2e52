//! Bad input gives typed errors with readable messages, never a panic: truncated
//! files, bad gzip, garbage, wrong wire types, dangling ids, huge lengths; and
//! thousands of deterministic mutations of every conformance profile.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use rustprof_profile::{DecodeError, Problem, decode, decode_reader, encode_uncompressed};

fn conformance(name: &str) -> Vec<u8> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/profiles").join(name);
    std::fs::read(p).unwrap()
}

fn format_problem(data: &[u8]) -> (String, Problem, String) {
    match decode(data) {
        Err(DecodeError::Format(f)) => {
            let msg = format!("{}", DecodeError::Format(f.clone()));
            (format!("{}.{}", f.message, f.field), f.problem, msg)
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

/// Minimal valid profile: a string table, one sample type.
fn minimal() -> Vec<u8> {
    let mut v = vec![];
    v.extend_from_slice(&[0x0a, 0x04, 0x08, 0x01, 0x10, 0x02]); // sample_type {type:1 unit:2}
    v.extend_from_slice(&[0x32, 0x00]); // ""
    v.extend_from_slice(&[0x32, 0x01, b'a']);
    v.extend_from_slice(&[0x32, 0x01, b'b']);
    v
}

#[test]
fn minimal_is_valid() {
    let p = decode(&minimal()).unwrap();
    assert_eq!(p.sample_types.len(), 1);
    assert_eq!(p.str(p.sample_types[0].ty), "a");
}

#[test]
fn empty_input() {
    assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
    assert!(matches!(decode_reader(&[][..]), Err(DecodeError::Empty)));
}

#[test]
fn bad_gzip() {
    let gz = conformance("go-heap.pb.gz");
    let e = decode(&gz[..gz.len() / 2]).unwrap_err();
    assert!(matches!(e, DecodeError::Gzip(_)), "{e:?}");
    assert!(e.to_string().starts_with("decompressing profile:"), "{e}");
    let mut bad = gz.clone();
    for b in &mut bad[20..40] {
        *b ^= 0x5a;
    }
    assert!(matches!(decode(&bad), Err(DecodeError::Gzip(_)) | Err(DecodeError::Format(_))));
    let e = decode(&[0x1f, 0x8b, 0, 0]).unwrap_err();
    assert!(matches!(e, DecodeError::Gzip(_)), "{e:?}");
}

#[test]
fn garbage_and_text() {
    let e = decode(b"this is not a profile at all\n").unwrap_err();
    assert!(matches!(e, DecodeError::Format(_)), "{e:?}");
    let e = decode(&[0xff; 64]).unwrap_err();
    assert!(matches!(e, DecodeError::Format(_)), "{e:?}");
}

#[test]
fn truncated_raw() {
    let raw = encode_uncompressed(&decode(&conformance("go-bench.cpu.pb.gz")).unwrap());
    for cut in [1, 2, 3, 10, 100, raw.len() / 2, raw.len() - 1] {
        assert!(decode(&raw[..cut]).is_err(), "truncated at {cut} decoded");
    }
}

#[test]
fn wrong_wire_type() {
    let mut v = minimal();
    v.extend_from_slice(&[0x48 | 0x02, 0x01, 0x00]); // time_nanos (9) as bytes
    let (field, problem, msg) = format_problem(&v);
    assert_eq!(field, "Profile.time_nanos");
    assert_eq!(problem, Problem::WireType { expected: 0, found: 2 });
    assert!(msg.contains("at byte 14"), "{msg}");
}

#[test]
fn dangling_location_id() {
    let mut v = minimal();
    v.extend_from_slice(&[0x12, 0x04, 0x08, 0x07, 0x10, 0x01]); // sample {location_id:7 value:1}
    let (field, problem, msg) = format_problem(&v);
    assert_eq!(field, "Sample.location_id");
    assert_eq!(problem, Problem::UnknownId(7));
    assert!(msg.contains("Sample.location_id: id 7 refers to no entry"), "{msg}");
}

#[test]
fn dangling_function_and_mapping() {
    let mut v = minimal();
    v.extend_from_slice(&[0x22, 0x06, 0x08, 0x01, 0x22, 0x02, 0x08, 0x05]); // location {id:1 line{function_id:5}}
    assert_eq!(format_problem(&v).1, Problem::UnknownId(5));
    let mut v = minimal();
    v.extend_from_slice(&[0x22, 0x04, 0x08, 0x01, 0x10, 0x03]); // location {id:1 mapping_id:3}
    let (field, problem, _) = format_problem(&v);
    assert_eq!(field, "Location.mapping_id");
    assert_eq!(problem, Problem::UnknownId(3));
}

#[test]
fn duplicate_and_zero_ids() {
    let mut v = minimal();
    v.extend_from_slice(&[0x2a, 0x02, 0x08, 0x01, 0x2a, 0x02, 0x08, 0x01]); // two functions id 1
    assert_eq!(format_problem(&v).1, Problem::DuplicateId(1));
    let mut v = minimal();
    v.extend_from_slice(&[0x2a, 0x02, 0x10, 0x01]); // function without id
    assert_eq!(format_problem(&v).1, Problem::ZeroId);
}

#[test]
fn string_index_out_of_range() {
    let mut v = minimal();
    v.extend_from_slice(&[0x2a, 0x04, 0x08, 0x01, 0x10, 0x63]); // function {id:1 name:99}
    let (field, problem, _) = format_problem(&v);
    assert_eq!(field, "Function.name");
    assert_eq!(problem, Problem::StringIndex { index: 99, len: 3 });
}

#[test]
fn value_count_mismatch() {
    let mut v = minimal();
    v.extend_from_slice(&[0x12, 0x04, 0x10, 0x01, 0x10, 0x02]); // sample with two values
    assert_eq!(format_problem(&v).1, Problem::ValueCount { found: 2, expected: 1 });
}

#[test]
fn huge_length_prefix() {
    let mut v = minimal();
    v.extend_from_slice(&[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]); // sample of 4 GiB
    let (_, problem, _) = format_problem(&v);
    assert!(matches!(problem, Problem::Length { .. }), "{problem:?}");
    let mut v = minimal();
    v.extend_from_slice(&[0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(decode(&v).is_err());
}

#[test]
fn first_string_must_be_empty_and_table_required() {
    assert_eq!(format_problem(&[0x32, 0x01, b'x']).1, Problem::FirstStringNotEmpty);
    assert_eq!(format_problem(&[0x50, 0x05]).1, Problem::NoStringTable);
}

#[test]
fn unknown_fields_are_skipped() {
    let mut v = minimal();
    v.extend_from_slice(&[0xf8, 0x07, 0x05]); // field 127 varint
    v.extend_from_slice(&[0xfa, 0x07, 0x02, 0xaa, 0xbb]); // field 127 bytes
    v.extend_from_slice(&[0xfd, 0x07, 1, 2, 3, 4]); // field 127 fixed32
    v.extend_from_slice(&[0xf9, 0x07, 1, 2, 3, 4, 5, 6, 7, 8]); // field 127 fixed64
    decode(&v).unwrap();
    let mut g = minimal();
    g.extend_from_slice(&[0xfb, 0x07]); // group start: invalid
    assert_eq!(format_problem(&g).1, Problem::UnknownWireType(3));
}

#[test]
fn concatenated_profiles() {
    let mut v = minimal();
    v.extend_from_slice(&[0x48, 0x05, 0x48, 0x06]);
    assert_eq!(format_problem(&v).1, Problem::Concatenated);
}

/// xorshift64*, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn thousands_of_mutations_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/profiles");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0usize, 0usize);
    for path in names {
        let gz = std::fs::read(&path).unwrap();
        let raw = encode_uncompressed(&decode(&gz).unwrap());
        // Keep the big synthetic profile's share bounded: mutate a prefix-heavy mix.
        for round in 0..600 {
            let mut m = raw.clone();
            match round % 6 {
                0 => m.truncate(rng.below(m.len())),
                1 => {
                    for _ in 0..1 + rng.below(8) {
                        let i = rng.below(m.len());
                        m[i] ^= 1 << rng.below(8);
                    }
                }
                2 => {
                    // Splice: copy a random range over another place.
                    let a = rng.below(m.len());
                    let len = rng.below(64).min(m.len() - a);
                    let b = rng.below(m.len());
                    let chunk = m[a..a + len].to_vec();
                    let end = (b + len).min(m.len());
                    m[b..end].copy_from_slice(&chunk[..end - b]);
                }
                3 => {
                    // Insert a random field key with a huge length.
                    let i = rng.below(m.len());
                    let field = (rng.below(16) as u8) << 3 | 2;
                    m.splice(i..i, [field, 0xff, 0xff, 0xff, 0xff, 0x7f]);
                }
                4 => {
                    let i = rng.below(m.len());
                    m[i] = rng.next() as u8;
                    let j = rng.below(m.len());
                    m.remove(j);
                }
                _ => {
                    // Duplicate a range (repeated fields, duplicate ids).
                    let a = rng.below(m.len());
                    let len = rng.below(200).min(m.len() - a);
                    let chunk = m[a..a + len].to_vec();
                    let at = rng.below(m.len());
                    m.splice(at..at, chunk);
                }
            }
            match decode(&m) {
                Ok(p) => {
                    ok += 1;
                    // Whatever decodes must re-encode and decode equal.
                    let again = decode(&encode_uncompressed(&p)).unwrap();
                    assert_eq!(again, p);
                }
                Err(e) => {
                    err += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
            // Gzip-level mutation too, less often.
            if round % 20 == 0 {
                let mut g = gz.clone();
                let i = 10 + rng.below(g.len() - 10);
                g[i] ^= 0x10;
                let _ = decode(&g);
            }
        }
    }
    assert!(ok > 0 && err > 0, "ok={ok} err={err}");
}
