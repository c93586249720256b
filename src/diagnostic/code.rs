//! Stable diagnostic codes. Numbers are never reused; see `docs/diagnostics.md`.

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $sev:ident, $summary:literal;)*) => {
        /// Every diagnostic fz reports, with its stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable code, e.g. `E001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// One-line summary for documentation.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    Syntax = "E001", Error, "syntax error";
    DuplicateNode = "E002", Error, "duplicate node id";
    UndeclaredNode = "E003", Error, "edge or loop names an undeclared node";
    UnknownShape = "E004", Error, "unknown shape";
    BadHandle = "E005", Error, "bad handle direction";
    UnclosedLane = "E006", Error, "unclosed lane";
    StrayBrace = "E007", Error, "stray `}` with no open lane";
    DuplicateLane = "E008", Error, "duplicate lane id";
    NodeOutsideLane = "E009", Error, "node declared outside every lane";
    MisplacedLaneLabel = "E010", Error, "display label `#` not right after a lane's `{`";
    TooManyErrors = "E011", Error, "too many errors; the rest are not shown";
    AttributeEquals = "W101", Warning, "node attribute written `key=\"…\"`";
    EdgeLabelColon = "W102", Warning, "edge label written `label:\"…\"`";
    MissingLanePrefix = "W103", Warning, "cross-lane target without its lane prefix";
    WrongLanePrefix = "W104", Warning, "lane prefix names another lane, or no lane";
    NodeNumbering = "W105", Warning, "node ids are not n1…nN without gaps";
    OrphanNode = "W106", Warning, "node in no edge";
    LongLabel = "W107", Warning, "label longer than 50 characters";
    UnknownAttribute = "W108", Warning, "unknown attribute key";
    NoReturnEdge = "W109", Warning, "cross-lane request with no edge coming back";
    InvisibleCharacter = "W110", Warning, "emoji or non-printable character";
    LaneWithoutLabel = "W111", Warning, "lane without display label";
    MissingHandle = "W112", Warning, "edge end without `.handle(…)`";
    DuplicateAttribute = "W113", Warning, "attribute given twice";
    EmptyLabel = "W114", Warning, "node with no label";
}
