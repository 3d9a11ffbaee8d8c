import Foundation
import NixFormats
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class NARRestorerTests: XCTestCase {
    /// A listing of everything under `path`, read with plain POSIX calls: relative path →
    /// kind, exec bit, contents or target.
    func snapshot(_ path: String) -> [String: String] {
        var result: [String: String] = [:]
        func walk(_ full: String, _ relative: String) {
            var info = stat()
            guard lstat(full, &info) == 0 else { result[relative] = "missing"; return }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                let data = FileManager.default.contents(atPath: full) ?? Data()
                result[relative] = "file x=\(info.st_mode & S_IXUSR != 0) \(data.base64EncodedString())"
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: 8192)
                let count = readlink(full, &buffer, buffer.count)
                result[relative] = "link " + String(decoding: buffer[0 ..< max(count, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            case S_IFDIR:
                result[relative] = "dir"
                for child in (try? FileManager.default.contentsOfDirectory(atPath: full)) ?? [] {
                    walk(full + "/" + child, relative + "/" + child)
                }
            default:
                result[relative] = "other"
            }
        }
        walk(path, "")
        return result
    }

    func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    // MARK: Round trips

    func randomName(_ generator: inout SplitMix64) -> [UInt8] {
        let alphabet = Array("abcXYZ019._-+= ".utf8) + [0xC3, 0xA9, 0x01, 0xFF, 0x7F]
        while true {
            let name = (0 ..< Int.random(in: 1 ... 12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            if name != [0x2E] && name != [0x2E, 0x2E] { return name }
        }
    }

    func randomTree(_ generator: inout SplitMix64, depth: Int) -> NARTestNode {
        let roll = Int.random(in: 0 ..< 10, using: &generator)
        if depth < 4 && roll < 4 {
            var names = Set<[UInt8]>()
            for _ in 0 ..< Int.random(in: 0 ... 6, using: &generator) { names.insert(randomName(&generator)) }
            return .rawDirectory(names.map { (name: $0, node: randomTree(&generator, depth: depth + 1)) })
        }
        if roll < 6 {
            let target = (0 ..< Int.random(in: 1 ... 40, using: &generator)).map { _ in UInt8.random(in: 1 ... 255, using: &generator) }
            return .symlink(target)
        }
        let sizes = [0, 1, 7, 8, 9, 100, 4096, 70_000]
        let size = sizes.randomElement(using: &generator)!
        return .file((0 ..< size).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }, executable: Bool.random(using: &generator))
    }

    func testRandomTreesRoundTrip() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["NAR_TEST_SEED"] ?? "") ?? UInt64.random(in: 0 ... UInt64.max)
        print("NARRestorerTests.testRandomTreesRoundTrip seed: \(seed) (rerun with NAR_TEST_SEED=\(seed))")
        var generator = SplitMix64(seed: seed)
        let temp = try NARTemporaryDirectory()
        for index in 0 ..< 40 {
            var tree = randomTree(&generator, depth: 0)
            if index % 4 == 0, case .file = tree { tree = .rawDirectory([(name: Array("only".utf8), node: tree)]) }
            let original = temp.path + "/original\(index)"
            try narMaterialise(tree, at: original)
            let nar = try NAR.dump(path: original)
            XCTAssertEqual(nar, NARBuilder.nar(sorted(tree)), "seed \(seed) tree \(index)")

            let restored = temp.path + "/restored\(index)"
            try NAR.restore(to: restored, bytes: nar)
            XCTAssertEqual(try NAR.dump(path: restored), nar, "seed \(seed) tree \(index)")
            XCTAssertEqual(snapshot(restored), snapshot(original), "seed \(seed) tree \(index)")

            let dripped = temp.path + "/dripped\(index)"
            try NAR.restore(to: dripped, reading: narReader(nar, chunk: index % 2 == 0 ? 1 : 5))
            XCTAssertEqual(snapshot(dripped), snapshot(original), "seed \(seed) tree \(index)")

            let hashed = try NAR.hash(path: restored)
            XCTAssertEqual(hashed.hash, HashAlgorithm.sha256.digest(nar))
            XCTAssertEqual(hashed.size, UInt64(nar.count))
        }
    }

    func sorted(_ node: NARTestNode) -> NARTestNode {
        guard case .rawDirectory(let entries) = node else { return node }
        return .rawDirectory(entries.sorted { $0.name.lexicographicallyPrecedes($1.name) }.map { (name: $0.name, node: sorted($0.node)) })
    }

    func testRestoreSetsModes() throws {
        let temp = try NARTemporaryDirectory()
        let nar = NARBuilder.nar(.directory([("exe", .file("#!", executable: true)), ("plain", .file("p")), ("sub", .directory([]))]))
        try NAR.restore(to: temp.path + "/out", bytes: nar)
        var info = stat()
        XCTAssertEqual(lstat(temp.path + "/out/exe", &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o755)
        XCTAssertEqual(lstat(temp.path + "/out/plain", &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o644)
        XCTAssertEqual(lstat(temp.path + "/out/sub", &info), 0)
        XCTAssertEqual(info.st_mode & 0o7777, 0o755)
    }

    // MARK: Hostile archives

    /// Restores `nar` into a fresh DEST beside an empty sentinel directory, expects `code`, and
    /// checks that DEST is gone and the sentinel is still empty.
    func assertRestoreRefused(_ nar: [UInt8], _ code: NARError.Code, chunk: Int = .max, file: StaticString = #filePath, line: UInt = #line) throws {
        let temp = try NARTemporaryDirectory()
        let sentinel = temp.path + "/sentinel"
        XCTAssertEqual(mkdir(sentinel, 0o755), 0)
        let destination = temp.path + "/dest"
        assertNARError(code, file: file, line: line) { try NAR.restore(to: destination, reading: narReader(nar, chunk: chunk)) }
        XCTAssertFalse(exists(destination), "partial DEST was not removed", file: file, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sentinel), [], file: file, line: line)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: temp.path)), ["sentinel"], file: file, line: line)
    }

    func testHostileArchivesAreRefusedAndRemoved() throws {
        let file = NARTestNode.file("x")
        let cases: [(String, [UInt8], NARError.Code)] = [
            ("dot-dot", NARBuilder.nar(.rawDirectory([(name: Array("..".utf8), node: file)])), .invalidEntryName),
            ("dot", NARBuilder.nar(.rawDirectory([(name: Array(".".utf8), node: file)])), .invalidEntryName),
            ("empty", NARBuilder.nar(.rawDirectory([(name: [], node: file)])), .invalidEntryName),
            ("slash", NARBuilder.nar(.rawDirectory([(name: Array("../sentinel/x".utf8), node: file)])), .invalidEntryName),
            ("NUL", NARBuilder.nar(.rawDirectory([(name: [0x61, 0, 0x62], node: file)])), .invalidEntryName),
            ("unsorted", NARBuilder.nar(.directory([("b", file), ("a", file)])), .entriesNotSorted),
            ("duplicate", NARBuilder.nar(.directory([("a", file), ("a", file)])), .duplicateEntry),
            ("executable marker", NARBuilder.tokens("nix-archive-1", "(", "type", "regular", "executable", "yes", "contents", "", ")"), .nonEmptyExecutableMarker),
            ("trailing", NARBuilder.nar(.directory([("a", file)])) + [0], .trailingBytes),
            ("unknown token", NARBuilder.tokens("nix-archive-1", "(", "type", "directory", "entry", "(", "name", "a", "node", "(", "type", "socket"), .unexpectedToken),
            ("truncated contents", Array(NARBuilder.nar(.directory([("a", .file("hello world"))])).dropLast(20)), .truncated),
        ]
        for (label, nar, code) in cases {
            print("hostile case: \(label)")
            try assertRestoreRefused(nar, code)
            try assertRestoreRefused(nar, code, chunk: 1)
        }
        var padding = NARBuilder.nar(.directory([("a", .file("hello\n"))]))
        padding[padding.count - 16 * 3 - 1] = 9  // last padding byte of the contents
        try assertRestoreRefused(padding, .nonZeroPadding)
    }

    func testSymlinkTricksCannotEscapeDestination() throws {
        // A symlink "x" pointing at the sentinel, then another node named "x": a duplicate.
        for second in [NARTestNode.directory([("evil", .file("pwned"))]), .file("pwned"), .symlink("/tmp")] {
            let nar = NARBuilder.nar(.directory([("x", .symlink("../sentinel")), ("x", second)]))
            try assertRestoreRefused(nar, .duplicateEntry)
        }
        // Names cannot carry a path through the symlink.
        try assertRestoreRefused(NARBuilder.nar(.rawDirectory([(name: Array("x".utf8), node: .symlink("../sentinel")), (name: Array("x/evil".utf8), node: .file("pwned"))])), .invalidEntryName)

        // Valid archives with symlinks pointing out: the links are created, nothing is written through them.
        let temp = try NARTemporaryDirectory()
        let sentinel = temp.path + "/sentinel"
        XCTAssertEqual(mkdir(sentinel, 0o755), 0)
        let nar = NARBuilder.nar(.directory([("a", .symlink(sentinel)), ("b", .directory([("c", .file("inside"))])), ("x", .symlink("../sentinel"))]))
        try NAR.restore(to: temp.path + "/dest", bytes: nar)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sentinel), [])
        XCTAssertEqual(snapshot(temp.path + "/dest")["/b/c"], "file x=false \(Data("inside".utf8).base64EncodedString())")

        // A symlink at the root is created as DEST itself; a second restore there is refused
        // and does not write through it.
        try NAR.restore(to: temp.path + "/root-link", bytes: NARBuilder.nar(.symlink(sentinel)))
        XCTAssertEqual(snapshot(temp.path + "/root-link")[""], "link " + sentinel)
        XCTAssertThrowsError(try NAR.restore(to: temp.path + "/root-link", bytes: NARBuilder.nar(.directory([("f", .file("pwned"))])))) { error in
            XCTAssertEqual((error as? NARFileSystemError)?.code, .destinationExists)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: sentinel), [])
        XCTAssertEqual(snapshot(temp.path + "/root-link")[""], "link " + sentinel)
    }

    func testExistingDestinationIsRefusedAndKept() throws {
        let temp = try NARTemporaryDirectory()
        let destination = temp.path + "/dest"
        try narMaterialise(.directory([("keep", .file("me"))]), at: destination)
        for nar in [NARBuilder.nar(.directory([])), NARBuilder.nar(.file("x")), NARBuilder.nar(.symlink("y")), [1, 2, 3]] {
            XCTAssertThrowsError(try NAR.restore(to: destination, bytes: nar)) { error in
                XCTAssertEqual((error as? NARFileSystemError)?.code, .destinationExists)
            }
        }
        XCTAssertEqual(snapshot(destination)["/keep"], "file x=false \(Data("me".utf8).base64EncodedString())")
    }

    func testEveryTruncatedPrefixFailsAndLeavesNothing() throws {
        let nar = NARBuilder.nar(narT4Tree)
        let temp = try NARTemporaryDirectory()
        for length in stride(from: 0, to: nar.count, by: 3) {
            let destination = temp.path + "/dest"
            assertNARError(.truncated) { try NAR.restore(to: destination, bytes: Array(nar[0 ..< length])) }
            XCTAssertFalse(exists(destination), "prefix \(length)")
        }
    }

    func testReadErrorsPropagateAndCleanUp() throws {
        struct Boom: Error {}
        let temp = try NARTemporaryDirectory()
        let nar = NARBuilder.nar(narT4Tree)
        var position = 0
        XCTAssertThrowsError(try NAR.restore(to: temp.path + "/dest") { buffer in
            if position > 600 { throw Boom() }
            let count = min(buffer.count, 100, nar.count - position)
            nar.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position ..< position + count])) }
            position += count
            return count
        }) { XCTAssertTrue($0 is Boom) }
        XCTAssertFalse(exists(temp.path + "/dest"))
    }
}
