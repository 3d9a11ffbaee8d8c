import Foundation
import NixFormats
import XCTest

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Test support shared by the NAR test files

/// A tree to serialise by hand, in the order given (so tests can build unsorted archives).
indirect enum NARTestNode {
    case file([UInt8], executable: Bool = false)
    case symlink([UInt8])
    case rawDirectory([(name: [UInt8], node: NARTestNode)])

    static func file(_ text: String, executable: Bool = false) -> NARTestNode { .file(Array(text.utf8), executable: executable) }
    static func symlink(_ text: String) -> NARTestNode { .symlink(Array(text.utf8)) }
    static func directory(_ entries: [(String, NARTestNode)]) -> NARTestNode { .rawDirectory(entries.map { (Array($0.0.utf8), $0.1) }) }
}

/// Builds NAR bytes by hand, independently of the library's writer.
enum NARBuilder {
    static func u64(_ value: UInt64) -> [UInt8] { (0 ..< 8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    static func str(_ bytes: [UInt8]) -> [UInt8] {
        u64(UInt64(bytes.count)) + bytes + [UInt8](repeating: 0, count: (8 - bytes.count % 8) % 8)
    }

    static func str(_ text: String) -> [UInt8] { str(Array(text.utf8)) }

    /// Concatenated `str` of each token.
    static func tokens(_ parts: String...) -> [UInt8] { parts.flatMap { str($0) } }

    static func nar(_ node: NARTestNode) -> [UInt8] { str("nix-archive-1") + encode(node) }

    static func encode(_ node: NARTestNode) -> [UInt8] {
        switch node {
        case .file(let contents, let executable):
            return tokens("(", "type", "regular") + (executable ? tokens("executable", "") : []) + tokens("contents") + str(contents) + tokens(")")
        case .symlink(let target):
            return tokens("(", "type", "symlink", "target") + str(target) + tokens(")")
        case .rawDirectory(let entries):
            var out = tokens("(", "type", "directory")
            for (name, child) in entries {
                out += tokens("entry", "(", "name") + str(name) + tokens("node") + encode(child) + tokens(")")
            }
            return out + tokens(")")
        }
    }
}

/// A fresh temporary directory, removed by `cleanUp`.
final class NARTemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/nar-test-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw POSIXError(.EIO) }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func cleanUp() {
        chmodTree(path)
        try? FileManager.default.removeItem(atPath: path)
    }

    private func chmodTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        chmod(path, 0o755)
        for child in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { chmodTree(path + "/" + child) }
    }

    deinit { cleanUp() }
}

/// Creates `node` at the raw byte path `path` with plain POSIX calls (not the library).
func narMaterialise(_ node: NARTestNode, at path: [UInt8]) throws {
    let cPath = path.map { CChar(bitPattern: $0) } + [0]
    switch node {
    case .file(let contents, let executable):
        let fd = open(cPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        contents.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
        close(fd)
        chmod(cPath, executable ? 0o755 : 0o644)
    case .symlink(let target):
        guard symlink(target.map { CChar(bitPattern: $0) } + [0], cPath) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    case .rawDirectory(let entries):
        guard mkdir(cPath, 0o755) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        for (name, child) in entries { try narMaterialise(child, at: path + [0x2F] + name) }
    }
}

func narMaterialise(_ node: NARTestNode, at path: String) throws { try narMaterialise(node, at: Array(path.utf8)) }

/// Asserts that `body` throws a ``NARError`` with `code`, and returns it.
@discardableResult
func assertNARError<T>(
    _ code: NARError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
) -> NARError? {
    do {
        _ = try body()
        XCTFail("expected NARError.\(code), got success", file: file, line: line)
    } catch let error as NARError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected NARError.\(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// A `read` closure over `bytes` that returns at most `chunk` bytes per call.
func narReader(_ bytes: [UInt8], chunk: Int = .max) -> (UnsafeMutableRawBufferPointer) throws -> Int {
    var position = 0
    return { buffer in
        let count = min(buffer.count, chunk, bytes.count - position)
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position ..< position + count])) }
        position += count
        return count
    }
}

/// The t4 tree of NIX-FORMATS.md §7.3.
let narT4Tree: NARTestNode = .directory([
    ("a.txt", .file("hello\n")),
    ("bin", .directory([("run", .file("#!/bin/sh\n", executable: true))])),
    ("eight", .file("12345678")),
    ("empty", .directory([])),
    ("emptyfile", .file("")),
    ("link", .symlink("a.txt")),
    ("sub", .directory([("dir", .directory([("deep", .file("deep"))]))])),
])

// MARK: - Decoder tests

final class NARDecoderTests: XCTestCase {
    let t4 = NARBuilder.nar(narT4Tree)

    func testHandBuiltT4MatchesNix() throws {
        let (hash, size) = try NAR.validate(bytes: t4)
        XCTAssertEqual(hash.sri, "sha256-v1uIPHpC8dmisArWLtihwlm7P8VOb7yl5AxYvg/T77w=")
        XCTAssertEqual(size, 1960)
    }

    func testVectorFilesValidateWithNixHashes() throws {
        let expected = [
            "t1.nar": ("sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM=", UInt64(120)),
            "t3.nar": ("sha256-1reAkJsNnUNcGyMt/nuEg5Rd+A1ikmM/ADlbZnCNVXM=", 136),
            "t4.nar": ("sha256-v1uIPHpC8dmisArWLtihwlm7P8VOb7yl5AxYvg/T77w=", 1960),
        ]
        for (file, (sri, size)) in expected {
            let url = try XCTUnwrap(Bundle.module.url(forResource: "Vectors/nar/" + file, withExtension: nil), file)
            let bytes = try [UInt8](Data(contentsOf: url))
            let result = try NAR.validate(bytes: bytes)
            XCTAssertEqual(result.hash.sri, sri, file)
            XCTAssertEqual(result.size, size, file)
        }
    }

    func testEventsArriveInStreamOrder() throws {
        struct Recorder: NARVisitor {
            var events: [String] = []
            mutating func enterDirectory() { events.append("dir{") }
            mutating func exitDirectory() { events.append("}") }
            mutating func enterEntry(name: [UInt8]) { events.append("entry " + String(decoding: name, as: UTF8.self)) }
            mutating func exitEntry() { events.append("/entry") }
            mutating func beginRegularFile(executable: Bool, size: UInt64) { events.append("file x=\(executable) \(size)") }
            mutating func regularFileContents(_ chunk: UnsafeRawBufferPointer) { events.append("data " + String(decoding: chunk, as: UTF8.self)) }
            mutating func endRegularFile() { events.append("/file") }
            mutating func symlink(target: [UInt8]) { events.append("link " + String(decoding: target, as: UTF8.self)) }
        }
        let nar = NARBuilder.nar(.directory([("a", .file("hi", executable: true)), ("b", .symlink("a"))]))
        var decoder = NARDecoder()
        var recorder = Recorder()
        try nar.withUnsafeBytes { try decoder.decode($0, into: &recorder) }
        try decoder.finish()
        XCTAssertEqual(recorder.events, [
            "dir{", "entry a", "file x=true 2", "data hi", "/file", "/entry", "entry b", "link a", "/entry", "}",
        ])
    }

    // MARK: Hostile input, one rule each

    func testWrongMagicIsRejected() {
        assertNARError(.badMagic) { try NAR.validate(bytes: NARBuilder.str("nix-archive-2") + NARBuilder.encode(.file("x"))) }
        assertNARError(.badMagic) { try NAR.validate(bytes: NARBuilder.str("nix-archive") + NARBuilder.encode(.file("x"))) }
        assertNARError(.badMagic) { try NAR.validate(bytes: NARBuilder.u64(1 << 62)) }
    }

    func testUnknownTokenIsRejected() {
        let fifo = NARBuilder.tokens("nix-archive-1", "(", "type", "fifo", ")")
        let error = assertNARError(.unexpectedToken) { try NAR.validate(bytes: fifo) }
        XCTAssertEqual(error?.offset, 56)
        XCTAssertEqual(error?.path, "/")
        assertNARError(.unexpectedToken) { try NAR.validate(bytes: NARBuilder.tokens("nix-archive-1", "[", "type")) }
        assertNARError(.unexpectedToken) {
            try NAR.validate(bytes: NARBuilder.tokens("nix-archive-1", "(", "type", "regular", "content", "") )
        }
    }

    func testOverlongControlTokenIsRejectedBeforeReading() {
        let nar = NARBuilder.tokens("nix-archive-1", "(") + NARBuilder.u64(UInt64(1) << 63)
        assertNARError(.tokenTooLong) { try NAR.validate(bytes: nar) }
    }

    func testExecutableMarkerMustBeEmpty() {
        let nar = NARBuilder.tokens("nix-archive-1", "(", "type", "regular", "executable", "1", "contents", "", ")")
        assertNARError(.nonEmptyExecutableMarker) { try NAR.validate(bytes: nar) }
    }

    func testInvalidEntryNamesAreRejected() {
        let names: [(String, [UInt8])] = [
            ("dot-dot", Array("..".utf8)), ("dot", Array(".".utf8)), ("empty", []),
            ("slash", Array("a/b".utf8)), ("NUL", [0x61, 0x00, 0x62]), ("only slash", [0x2F]),
        ]
        for (label, name) in names {
            let nar = NARBuilder.nar(.rawDirectory([(name: name, node: .file("x"))]))
            let error = assertNARError(.invalidEntryName) { try NAR.validate(bytes: nar) }
            XCTAssertNotNil(error, label)
        }
    }

    func testUnsortedEntriesAreRejected() {
        let nar = NARBuilder.nar(.directory([("b", .file("")), ("a", .file(""))]))
        let error = assertNARError(.entriesNotSorted) { try NAR.validate(bytes: nar) }
        XCTAssertEqual(error?.path, "/a")
        XCTAssertEqual(error?.description.hasPrefix("invalid NAR at byte "), true)
        // Bytewise unsigned order: "é" (0xC3 0xA9) sorts after "z"; "B" before "a".
        XCTAssertNoThrow(try NAR.validate(bytes: NARBuilder.nar(.directory([("B", .file("")), ("a", .file("")), ("z", .file("")), ("é", .file(""))]))))
        assertNARError(.entriesNotSorted) { try NAR.validate(bytes: NARBuilder.nar(.directory([("é", .file("")), ("z", .file(""))]))) }
        // Order is checked per directory, also after a nested one closes.
        assertNARError(.entriesNotSorted) {
            try NAR.validate(bytes: NARBuilder.nar(.directory([("m", .directory([("z", .file(""))])), ("c", .file(""))])))
        }
    }

    func testDuplicateEntriesAreRejected() {
        let nar = NARBuilder.nar(.directory([("a", .file("")), ("a", .directory([]))]))
        assertNARError(.duplicateEntry) { try NAR.validate(bytes: nar) }
    }

    func testNonZeroPaddingIsRejected() {
        // In a token ("(" is followed by 7 padding bytes).
        var token = NARBuilder.nar(.file("hello\n"))
        token[24 + 8 + 3] = 1
        let error = assertNARError(.nonZeroPadding) { try NAR.validate(bytes: token) }
        XCTAssertEqual(error?.offset, 35)
        // After file contents: "hello\n" is followed by 2 padding bytes at 102, 103.
        var contents = NARBuilder.nar(.file("hello\n"))
        XCTAssertEqual(contents.count, 120)
        contents[103] = 0x80
        assertNARError(.nonZeroPadding) { try NAR.validate(bytes: contents) }
        // In a name.
        var name = NARBuilder.nar(.directory([("abc", .file(""))]))
        let nameOffset = NARBuilder.tokens("nix-archive-1", "(", "type", "directory", "entry", "(", "name").count + 8 + 3
        XCTAssertEqual(name[nameOffset - 3], 0x61)
        name[nameOffset] = 0x20
        assertNARError(.nonZeroPadding) { try NAR.validate(bytes: name) }
    }

    func testEveryProperPrefixIsTruncated() {
        for nar in [t4, NARBuilder.nar(.file("hello\n")), NARBuilder.nar(.symlink("/nix/store/xyz-target"))] {
            for length in 0 ..< nar.count {
                assertNARError(.truncated) { try NAR.validate(bytes: Array(nar[0 ..< length])) }
            }
        }
    }

    func testTrailingBytesAreForbidden() {
        assertNARError(.trailingBytes) { try NAR.validate(bytes: t4 + [0]) }
        assertNARError(.trailingBytes) { try NAR.validate(bytes: t4 + NARBuilder.tokens("(")) }
    }

    func testAbsurdLengthsFailWithoutAllocating() {
        let bigName = NARBuilder.tokens("nix-archive-1", "(", "type", "directory", "entry", "(", "name") + NARBuilder.u64(UInt64(1) << 63)
        assertNARError(.nameTooLong) { try NAR.validate(bytes: bigName) }
        let longName = NARBuilder.nar(.rawDirectory([(name: [UInt8](repeating: 0x61, count: 256), node: .file(""))]))
        assertNARError(.nameTooLong) { try NAR.validate(bytes: longName) }
        XCTAssertNoThrow(try NAR.validate(bytes: NARBuilder.nar(.rawDirectory([(name: [UInt8](repeating: 0x61, count: 255), node: .file(""))]))))

        let bigTarget = NARBuilder.tokens("nix-archive-1", "(", "type", "symlink", "target") + NARBuilder.u64(UInt64.max)
        assertNARError(.targetTooLong) { try NAR.validate(bytes: bigTarget) }
        assertNARError(.targetTooLong) { try NAR.validate(bytes: NARBuilder.nar(.symlink([UInt8](repeating: 0x61, count: 4096)))) }
        XCTAssertNoThrow(try NAR.validate(bytes: NARBuilder.nar(.symlink([UInt8](repeating: 0x61, count: 4095)))))

        // 1 TiB of declared contents, then the stream ends: streamed, never allocated.
        let bigFile = NARBuilder.tokens("nix-archive-1", "(", "type", "regular", "contents") + NARBuilder.u64(UInt64(1) << 40) + [1, 2, 3]
        assertNARError(.truncated) { try NAR.validate(bytes: bigFile) }
        let maxFile = NARBuilder.tokens("nix-archive-1", "(", "type", "regular", "contents") + NARBuilder.u64(UInt64.max)
        assertNARError(.truncated) { try NAR.validate(bytes: maxFile) }
    }

    func testSymlinkTargetMustBeNonEmptyWithoutNUL() {
        assertNARError(.invalidSymlinkTarget) { try NAR.validate(bytes: NARBuilder.nar(.symlink([]))) }
        assertNARError(.invalidSymlinkTarget) { try NAR.validate(bytes: NARBuilder.nar(.symlink([0x61, 0x00]))) }
    }

    func testNestingDepthIsBounded() {
        func nested(_ depth: Int) -> NARTestNode {
            var node = NARTestNode.file("")
            for _ in 0 ..< depth { node = .directory([("d", node)]) }
            return node
        }
        XCTAssertNoThrow(try NAR.validate(bytes: NARBuilder.nar(nested(NARGrammar.maximumDepth))))
        let error = assertNARError(.tooDeep) { try NAR.validate(bytes: NARBuilder.nar(nested(NARGrammar.maximumDepth + 1))) }
        XCTAssertEqual(error?.path.split(separator: "/").count, NARGrammar.maximumDepth + 1)
    }

    func testErrorDescriptionIsOneLine() throws {
        let nar = NARBuilder.nar(.directory([("a", .directory([("c", .file("")), ("b", .file(""))]))]))
        let error = try XCTUnwrap(assertNARError(.entriesNotSorted) { try NAR.validate(bytes: nar) })
        XCTAssertEqual(error.description, "invalid NAR at byte \(error.offset) (/a/b): entry names not sorted: \"b\" after \"c\"")
        XCTAssertFalse(error.description.contains("\n"))
    }

    // MARK: Chunking

    func testDripFedValidationMatchesWholeInput() throws {
        let whole = try NAR.validate(bytes: t4)
        let drip = try NAR.validate(reading: narReader(t4, chunk: 1))
        XCTAssertEqual(whole.hash, drip.hash)
        XCTAssertEqual(whole.size, drip.size)
        for chunk in [3, 7, 8, 13, 64] {
            XCTAssertEqual(try NAR.validate(reading: narReader(t4, chunk: chunk)).hash, whole.hash, "chunk \(chunk)")
        }
    }

    func testEverySplitPointDecodesTheSame() throws {
        for split in 0 ... t4.count {
            var decoder = NARDecoder()
            var visitor = NARCountingVisitor()
            try t4.withUnsafeBytes { bytes in
                try decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[0 ..< split]), into: &visitor)
                try decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[split...]), into: &visitor)
            }
            try decoder.finish()
            XCTAssertEqual(visitor.contentBytes, 6 + 10 + 8 + 4, "split \(split)")
            XCTAssertEqual(visitor.entries, 10, "split \(split)")
        }
    }

    func testDecoderIsPoisonedAfterAnError() throws {
        var decoder = NARDecoder()
        var visitor = NARCountingVisitor()
        let bad = NARBuilder.str("nix-archive-0")
        XCTAssertThrowsError(try bad.withUnsafeBytes { try decoder.decode($0, into: &visitor) })
        XCTAssertThrowsError(try t4.withUnsafeBytes { try decoder.decode($0, into: &visitor) }) { error in
            XCTAssertEqual((error as? NARError)?.code, .badMagic)
        }
        XCTAssertThrowsError(try decoder.finish())
    }
}

struct NARCountingVisitor: NARVisitor {
    var contentBytes = 0
    var entries = 0
    mutating func regularFileContents(_ chunk: UnsafeRawBufferPointer) { contentBytes += chunk.count }
    mutating func enterEntry(name: [UInt8]) { entries += 1 }
}
