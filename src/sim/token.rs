//! Tokens: what flows through the network. Plain `Copy` data carried inside events, so that
//! moving a token costs no allocation.

use super::time::Nanos;

/// Marker for "no commit yet".
pub const NO_COMMIT: Nanos = Nanos::MAX;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A message from a source (a command, a request).
    Message,
    /// A query arriving at a query API (CQRS lens); `view` names the view it reads.
    Read { view: u16 },
}

/// One unit of work in flight.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    /// When it arrived from outside (its origin).
    pub origin: Nanos,
    /// Partition key.
    pub key: u32,
    /// Hops taken so far (edges followed, loop repeats included).
    pub hops: u32,
    /// Repeats taken of the loop it is in.
    pub repeats: u16,
    pub kind: TokenKind,
    /// When it passed the write commit, or [`NO_COMMIT`].
    pub commit: Nanos,
    /// Global commit sequence number (valid when `commit != NO_COMMIT`).
    pub cseq: u64,
    /// Per-key commit sequence number.
    pub kseq: u32,
    /// When it arrived at, and started service at, its current station.
    pub arrived: Nanos,
    pub started: Nanos,
    /// The fork record of the fan-out whose part this is, or [`NONE`].
    pub fork: u32,
    /// The request it is a copy of (the engine's request table).
    pub req: u32,
    /// The station to go back to after a store read, or [`NONE`].
    pub ret: u32,
    /// The source it came from.
    pub src: u16,
    /// [`WRITING`], [`READ_DONE`], [`READING`].
    pub flags: u8,
}

/// "None" for the `u32` index fields of a token.
pub const NONE: u32 = u32::MAX;
/// The token took a write into a store.
pub const WRITING: u8 = 1;
/// The token has done its store read at the current station.
pub const READ_DONE: u8 = 2;
/// The token came into a store to read it: it goes on only by the store's read-only hops.
pub const READING: u8 = 4;
/// The token's answer was recorded (when it is its own request: no copies, no user).
pub const RESPONDED: u8 = 8;

impl Token {
    #[inline]
    pub fn new(origin: Nanos, key: u32, kind: TokenKind) -> Token {
        Token {
            origin,
            key,
            hops: 0,
            repeats: 0,
            kind,
            commit: NO_COMMIT,
            cseq: 0,
            kseq: 0,
            arrived: origin,
            started: origin,
            fork: NONE,
            req: NONE,
            ret: NONE,
            src: 0,
            flags: 0,
        }
    }

    #[inline]
    pub fn committed(&self) -> bool {
        self.commit != NO_COMMIT
    }
}
