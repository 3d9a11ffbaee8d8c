/// The NAR (Nix ARchive) wire format: tokens, limits and the rules this module enforces.
///
/// A NAR is a deterministic serialisation of one file system object (a regular file, a symlink or
/// a directory tree). Nix hashes it to get the `NarHash` of a store path, and ships it in binary
/// caches. It stores no owners, timestamps or permissions except the owner-execute bit.
///
/// ## Primitives
///
/// * `u64`: 8 bytes, little-endian, unsigned.
/// * `str(s)`: `u64(len(s))`, the bytes of `s`, then `(8 - len % 8) % 8` zero bytes, so every
///   string ends on a multiple of 8. An empty string is just `u64(0)`.
///
/// Every token in the grammar below is a `str`.
///
/// ## Grammar
///
/// ```
/// nar   = "nix-archive-1" node
/// node  = "(" "type" body ")"
/// body  = "regular" [ "executable" "" ] "contents" str(file bytes)
///       | "symlink" "target" str(target)
///       | "directory" entry*
/// entry = "entry" "(" "name" str(name) "node" node ")"
/// ```
///
/// ## Rules
///
/// The writer (``NAR/dump(path:into:)``) always produces canonical output. The reader
/// (``NARDecoder``, used by ``NAR/validate(reading:)`` and ``NAR/restore(to:reading:)``) accepts
/// only canonical input, because Vouch signs and compares bytes; one tree has exactly one NAR.
///
/// | rule | enforced by | error |
/// |---|---|---|
/// | the stream starts with the exact magic `str("nix-archive-1")` | reader | ``NARError/Code/badMagic`` |
/// | every control token is exactly one of the grammar's tokens at that place | reader | ``NARError/Code/unexpectedToken``, ``NARError/Code/tokenTooLong`` |
/// | padding bytes are zero | reader | ``NARError/Code/nonZeroPadding`` |
/// | the `executable` marker's value is the empty string | reader | ``NARError/Code/nonEmptyExecutableMarker`` |
/// | entry names: 1 to ``maximumNameLength`` bytes, not `.` or `..`, no `/`, no NUL | reader (writer gets them from the file system) | ``NARError/Code/invalidEntryName``, ``NARError/Code/nameTooLong`` |
/// | entries strictly ascending by unsigned bytewise comparison of names | writer sorts; reader rejects disorder and duplicates | ``NARError/Code/entriesNotSorted``, ``NARError/Code/duplicateEntry`` |
/// | symlink targets: 1 to ``maximumTargetLength`` bytes, no NUL, stored verbatim | reader | ``NARError/Code/invalidSymlinkTarget``, ``NARError/Code/targetTooLong`` |
/// | nesting at most ``maximumDepth`` entries deep | reader | ``NARError/Code/tooDeep`` |
/// | nothing follows the root node; the stream does not end early | reader | ``NARError/Code/trailingBytes``, ``NARError/Code/truncated`` |
///
/// Every length is checked against its limit before anything is allocated for it. File contents
/// have no limit (any `u64`): they are streamed in chunks and never buffered whole.
///
/// Nix 2.8 itself accepts unsorted entries on input (it re-creates its "previous name" per entry;
/// fixed in Nix 2.25). Nix never writes such NARs, so rejecting them costs nothing.
public enum NARGrammar {
    /// The first string of every NAR.
    public static let magic: [UInt8] = Array("nix-archive-1".utf8)

    /// The longest entry name accepted, in bytes (Linux `NAME_MAX`).
    public static let maximumNameLength = 255

    /// The longest symlink target accepted, in bytes (Linux `PATH_MAX` minus the NUL).
    public static let maximumTargetLength = 4095

    /// The deepest nesting accepted: the root node is at depth 0, each `entry` adds one.
    public static let maximumDepth = 256

    /// The longest control token accepted, in bytes. The longest real one is `nix-archive-1` (13).
    /// A longer declared length is rejected before any of its bytes are read.
    public static let maximumTokenLength = 16

    static let openParen: [UInt8] = Array("(".utf8)
    static let closeParen: [UInt8] = Array(")".utf8)
    static let type: [UInt8] = Array("type".utf8)
    static let regular: [UInt8] = Array("regular".utf8)
    static let executable: [UInt8] = Array("executable".utf8)
    static let contents: [UInt8] = Array("contents".utf8)
    static let symlink: [UInt8] = Array("symlink".utf8)
    static let target: [UInt8] = Array("target".utf8)
    static let directory: [UInt8] = Array("directory".utf8)
    static let entry: [UInt8] = Array("entry".utf8)
    static let name: [UInt8] = Array("name".utf8)
    static let node: [UInt8] = Array("node".utf8)

    /// Number of zero bytes that follow a string of `length` bytes.
    @inline(__always)
    static func paddingLength(_ length: UInt64) -> Int {
        Int(truncatingIfNeeded: (8 &- (length & 7)) & 7)
    }

    /// Why `name` is not a valid entry name, or `nil` if it is valid.
    static func entryNameProblem(_ name: [UInt8]) -> String? {
        if name.isEmpty { return "entry name is empty" }
        if name.count > maximumNameLength { return "entry name is longer than \(maximumNameLength) bytes" }
        if name == [0x2E] || name == [0x2E, 0x2E] { return "entry name '\(String(decoding: name, as: UTF8.self))' is not allowed" }
        if name.contains(0x2F) { return "entry name contains '/'" }
        if name.contains(0) { return "entry name contains NUL" }
        return nil
    }

    /// Unsigned bytewise order of entry names, as Nix's `std::map<std::string>`.
    @inline(__always)
    static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.lexicographicallyPrecedes(b)
    }
}
