import Foundation
import NixFormats
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class NARWriterTests: XCTestCase {
    /// NIX-FORMATS.md §7.3, produced by Nix 2.8.0 (`nix hash path`, `nix-store --dump | wc -c`).
    struct GoldenVector {
        let name: String
        let tree: NARTestNode
        let sri: String
        let nix32: String
        let size: UInt64
    }

    static let t5Names = ["B", "a", "a.b", "a-b", "Z", "_", "é", "10", "9"]

    static let vectors: [GoldenVector] = [
        GoldenVector(
            name: "t1", tree: .file("hello\n"), sri: "sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM=",
            nix32: "04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw", size: 120),
        GoldenVector(
            name: "t2", tree: .file("#!/bin/sh\necho hi\n", executable: true), sri: "sha256-XgrM8Czt7eXkEZ/6FeeeeaX7H7m8Q8PUNPMyJ6FEd6A=",
            nix32: "183p8jhjfcpk6kac6hxwp4gzp9brkvkibylz27jfbvgd5kqcq2jy", size: 168),
        GoldenVector(
            name: "t3", tree: .symlink("/nix/store/xyz-target"), sri: "sha256-1reAkJsNnUNcGyMt/nuEg5Rd+A1ikmM/ADlbZnCNVXM=",
            nix32: "0wsmimq6cnrr00zn74k21pw5v543hixzwb933df4778dkf881dyn", size: 136),
        GoldenVector(
            name: "t4", tree: narT4Tree, sri: "sha256-v1uIPHpC8dmisArWLtihwlm7P8VOb7yl5AxYvg/T77w=",
            nix32: "1g7gsc7vwn0cwjjvqvsfqlzvnnf2l7c2xmhan2idkwa2g8y8hnxz", size: 1960),
        // Written in creation order; the dump must sort them.
        GoldenVector(
            name: "t5", tree: .directory(t5Names.map { ($0, .file($0)) }), sri: "sha256-hyXJyGjadwGnsEzHZSxGUYEf6rk0HYFg1wrQHfHBcWo=",
            nix32: "0skiq7qivl0asxh8279lp7m1z0ai8qn6biscn2kh2xysd34cj9c7", size: 1824),
        GoldenVector(
            name: "e1", tree: .directory([]), sri: "sha256-pQpattmS9VmO3ZIQUFn66az8GSmB4IvYhTTCFn6SUmo=",
            nix32: "0sjjj9z1dhilhpc8pq4154czrb79z9cm044jvn75kxcjv6v5l2m5", size: 96),
        GoldenVector(
            name: "e2", tree: .file(""), sri: "sha256-d6xi4mKdjkX2JFicDIv5niSzpyI0m/Hnm8GGAIU04kY=",
            nix32: "0ip26j2h11n1kgkz36rl4akv694yz65hr72q4kv4b3lxcbi65b3p", size: 112),
    ]

    func testGoldenVectorsMatchNix28() throws {
        let temp = try NARTemporaryDirectory()
        for vector in Self.vectors {
            let path = temp.path + "/" + vector.name
            try narMaterialise(vector.tree, at: path)

            let (hash, size) = try NAR.hash(path: path)
            XCTAssertEqual(hash.sri, vector.sri, vector.name)
            XCTAssertEqual(hash.nix32, vector.nix32, vector.name)
            XCTAssertEqual(size, vector.size, vector.name)

            let dumped = try NAR.dump(path: path)
            XCTAssertEqual(UInt64(dumped.count), vector.size, vector.name)
            XCTAssertEqual(HashAlgorithm.sha256.digest(dumped).sri, vector.sri, vector.name)
            let validated = try NAR.validate(bytes: dumped)
            XCTAssertEqual(validated.hash, hash, vector.name)
            XCTAssertEqual(validated.size, size, vector.name)
        }
    }

    func testT1DumpIsByteExact() throws {
        let temp = try NARTemporaryDirectory()
        try narMaterialise(.file("hello\n"), at: temp.path + "/t1")
        let expected = """
            0d00000000000000 6e69782d61726368 6976652d31000000
            0100000000000000 2800000000000000
            0400000000000000 7479706500000000
            0700000000000000 726567756c617200
            0800000000000000 636f6e74656e7473
            0600000000000000 68656c6c6f0a0000
            0100000000000000 2900000000000000
            """.filter { !$0.isWhitespace }
        let dumped = try NAR.dump(path: temp.path + "/t1")
        XCTAssertEqual(dumped.count, 120)
        XCTAssertEqual(dumped.map { String(format: "%02x", $0) }.joined(), expected)
    }

    func testT5EntriesAreSortedBytewise() throws {
        let temp = try NARTemporaryDirectory()
        try narMaterialise(.directory(Self.t5Names.map { ($0, .file($0)) }), at: temp.path + "/t5")
        struct Names: NARVisitor {
            var names: [String] = []
            mutating func enterEntry(name: [UInt8]) { names.append(String(decoding: name, as: UTF8.self)) }
        }
        var decoder = NARDecoder()
        var visitor = Names()
        try NAR.dump(path: temp.path + "/t5") { try decoder.decode($0, into: &visitor) }
        try decoder.finish()
        XCTAssertEqual(visitor.names, ["10", "9", "B", "Z", "_", "a", "a-b", "a.b", "é"])
    }

    func testDumpMatchesHandBuiltNAR() throws {
        let temp = try NARTemporaryDirectory()
        try narMaterialise(narT4Tree, at: temp.path + "/t4")
        XCTAssertEqual(try NAR.dump(path: temp.path + "/t4"), NARBuilder.nar(narT4Tree))
    }

    func testSymlinkAtRootIsNotFollowed() throws {
        let temp = try NARTemporaryDirectory()
        try narMaterialise(.directory([("x", .file("data"))]), at: temp.path + "/dir")
        try narMaterialise(.symlink(temp.path + "/dir"), at: temp.path + "/link")
        XCTAssertEqual(try NAR.dump(path: temp.path + "/link"), NARBuilder.nar(.symlink(temp.path + "/dir")))
    }

    func testUnsupportedFileTypeNamesThePath() throws {
        let temp = try NARTemporaryDirectory()
        try narMaterialise(.directory([("ok", .file(""))]), at: temp.path + "/tree")
        XCTAssertEqual(mkfifo(temp.path + "/tree/pipe", 0o644), 0)
        XCTAssertThrowsError(try NAR.hash(path: temp.path + "/tree")) { error in
            let error = error as? NARFileSystemError
            XCTAssertEqual(error?.code, .unsupportedFileType)
            XCTAssertEqual(error?.path, temp.path + "/tree/pipe")
        }
    }

    func testMissingPathIsAnError() throws {
        let temp = try NARTemporaryDirectory()
        XCTAssertThrowsError(try NAR.hash(path: temp.path + "/missing")) { error in
            let error = error as? NARFileSystemError
            XCTAssertEqual(error?.code, .systemCallFailed)
            XCTAssertEqual(error?.errno, ENOENT)
            XCTAssertEqual(error?.path, temp.path + "/missing")
        }
    }

    func testLargeFileSpanningBuffersHashesLikeItsDump() throws {
        let temp = try NARTemporaryDirectory()
        var generator = SplitMix64(seed: 7)
        let big = (0 ..< (3 << 20) + 5).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
        try narMaterialise(.directory([("big", .file(big)), ("small", .file("s"))]), at: temp.path + "/tree")
        let dumped = try NAR.dump(path: temp.path + "/tree")
        XCTAssertEqual(dumped, NARBuilder.nar(.directory([("big", .file(big)), ("small", .file("s"))])))
        let (hash, size) = try NAR.hash(path: temp.path + "/tree")
        XCTAssertEqual(hash, HashAlgorithm.sha256.digest(dumped))
        XCTAssertEqual(size, UInt64(dumped.count))
    }
}
