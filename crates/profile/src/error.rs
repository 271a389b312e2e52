//! Typed errors of decoding and validation.

use std::fmt;

/// What was wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The data ended inside a field.
    Truncated,
    /// A varint longer than 10 bytes.
    BadVarint,
    /// A known field was encoded with another wire type.
    WireType {
        /// Wire type the schema requires.
        expected: u8,
        /// Wire type found.
        found: u8,
    },
    /// Wire types 3, 4, 6 and 7 (groups, invalid).
    UnknownWireType(u8),
    /// A length prefix larger than the rest of the enclosing message.
    Length {
        /// The length read.
        len: u64,
        /// Bytes available.
        available: u64,
    },
    /// A string index outside the string table.
    StringIndex {
        /// The index.
        index: u64,
        /// The table's size.
        len: usize,
    },
    /// An id that names no entry of the table it refers to.
    UnknownId(u64),
    /// Two entries with the same id.
    DuplicateId(u64),
    /// Id 0, which is reserved.
    ZeroId,
    /// A sample with a number of values other than the number of sample types.
    ValueCount {
        /// Values in the sample.
        found: usize,
        /// Sample types of the profile.
        expected: usize,
    },
    /// Samples but no sample types.
    NoSampleTypes,
    /// `string_table[0]` is not the empty string.
    FirstStringNotEmpty,
    /// The string table is missing (no entry 0).
    NoStringTable,
    /// A second `time_nanos`: two profiles were concatenated.
    Concatenated,
    /// An index that is out of range in an in-memory profile.
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The table's size.
        len: usize,
    },
    /// Too many entries for the in-memory representation.
    TooLarge,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Truncated => write!(f, "data ends inside the field"),
            Problem::BadVarint => write!(f, "bad varint"),
            Problem::WireType { expected, found } => {
                write!(f, "wire type {found}, expected {expected}")
            }
            Problem::UnknownWireType(t) => write!(f, "unknown wire type {t}"),
            Problem::Length { len, available } => {
                write!(f, "length {len} exceeds the {available} bytes left")
            }
            Problem::StringIndex { index, len } => {
                write!(f, "string index {index} out of range (table has {len})")
            }
            Problem::UnknownId(id) => write!(f, "id {id} refers to no entry"),
            Problem::DuplicateId(id) => write!(f, "duplicate id {id}"),
            Problem::ZeroId => write!(f, "reserved id 0"),
            Problem::ValueCount { found, expected } => {
                write!(f, "{found} values but {expected} sample types")
            }
            Problem::NoSampleTypes => write!(f, "samples without sample types"),
            Problem::FirstStringNotEmpty => write!(f, "string_table[0] must be \"\""),
            Problem::NoStringTable => write!(f, "no string table"),
            Problem::Concatenated => write!(f, "concatenated profiles detected"),
            Problem::IndexOutOfRange { index, len } => {
                write!(f, "index {index} out of range (table has {len})")
            }
            Problem::TooLarge => write!(f, "too many entries"),
        }
    }
}

/// A malformed field in a profile.proto message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}.{field}: {problem} (at byte {offset})")]
pub struct FormatError {
    /// The message type (`Profile`, `Sample`, `Location`, ...).
    pub message: &'static str,
    /// The field name (`location_id`, `string_table`, ...).
    pub field: &'static str,
    /// Offset in the uncompressed protobuf data where the message or field starts.
    pub offset: u64,
    /// What was wrong.
    pub problem: Problem,
}

/// Why a profile could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The input had no bytes.
    #[error("empty input")]
    Empty,
    /// Reading the input failed.
    #[error("reading profile: {0}")]
    Io(#[source] std::io::Error),
    /// The gzip stream is corrupt or truncated.
    #[error("decompressing profile: {0}")]
    Gzip(#[source] std::io::Error),
    /// The uncompressed data is larger than the configured limit.
    #[error("profile is larger than the limit of {} uncompressed", human_bytes(*limit))]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Decoding would take more memory than the configured limit (counted
    /// before the tables are allocated).
    #[error("{what} would take {} of memory, more than the limit of {}", human_bytes(*need), human_bytes(*limit))]
    TooMuchMemory {
        /// The entries that take the most (`536870912 comments`).
        what: String,
        /// Bytes the decoded profile would take.
        need: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The system refused memory for the decoded profile.
    #[error("out of memory: could not allocate {} for the profile", human_bytes(*bytes))]
    OutOfMemory {
        /// The size of the allocation that failed.
        bytes: u64,
    },
    /// The protobuf data is malformed.
    #[error("malformed profile: {0}")]
    Format(#[from] FormatError),
}

/// A reference or count that is wrong in an in-memory profile.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}[{index}].{field}: {problem}")]
pub struct ValidationError {
    /// The table (`Sample`, `Location`, ...).
    pub message: &'static str,
    /// The field.
    pub field: &'static str,
    /// The entry's position in its table.
    pub index: usize,
    /// What was wrong.
    pub problem: Problem,
}

/// Two profiles that cannot be merged or compared.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    /// The period types differ.
    #[error("incompatible period types {0} and {1}")]
    PeriodType(String, String),
    /// The sample types differ.
    #[error("incompatible sample types {0} and {1}")]
    SampleTypes(String, String),
    /// Nothing to merge.
    #[error("no profiles to merge")]
    NoProfiles,
    /// A scale vector has the wrong length.
    #[error("mismatched scale ratios, got {got}, want {want}")]
    Ratios {
        /// Ratios given.
        got: usize,
        /// Sample types.
        want: usize,
    },
}

/// A byte count for people: `512 B`, `3.00 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}
