import NixFormats
import XCTest

/// Vectors from NIX-FORMATS §1.5 and §7.2, produced by Nix 2.8.0.
final class StorePathTests: XCTestCase {
    let hello = Array("hello\n".utf8)

    func testSourcePathOfHello() throws {
        let nar = try NixHash(parsing: "sha256:1c37d01af40be2e80691de3cc3df44377a699afbb17c68f080964b2fd071fc13")
        XCTAssertEqual(try StorePath.fixedOutput(name: "hello.txt", method: .recursive, hash: nar).absolute,
                       "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt")
    }

    func testFixedOutputPaths() throws {
        XCTAssertEqual(try StorePath.fixedOutput(name: "hello.txt", method: .flat, hash: HashAlgorithm.sha256.digest(hello)).absolute,
                       "/nix/store/gy454w1cxaq731grqwylhzf4pp9r5izh-hello.txt")
        XCTAssertEqual(try StorePath.fixedOutput(name: "hello.txt", method: .flat, hash: HashAlgorithm.sha1.digest(hello)).absolute,
                       "/nix/store/svdva85yi507g9vncgsaxvnd1r808h4w-hello.txt")
        let recursiveSHA1 = try NixHash(parsing: "sha1:0deb52c2735eb38d360f976b7b3823c4ad05cce7")
        XCTAssertEqual(try StorePath.fixedOutput(name: "hello.txt", method: .recursive, hash: recursiveSHA1).absolute,
                       "/nix/store/hzq8n5jpi3g2d0xhlvqd8q1gx5c9s6i3-hello.txt")
    }

    func testTextPathsWithReferences() throws {
        let a = try StorePath.text(name: "a.txt", contents: Array("aaa".utf8))
        XCTAssertEqual(a.absolute, "/nix/store/2qzxavkmc1a53hdc058phqdqyic53b67-a.txt")
        let c = try StorePath.text(name: "c.txt", contents: Array("ccc".utf8))
        XCTAssertEqual(c.absolute, "/nix/store/c0nggkp2mjvp4h5j5pmpyrxbz403d5p5-c.txt")
        let b = try StorePath.text(name: "b.txt", contents: Array("ref to \(a) and \(c)".utf8), references: [c, a])
        XCTAssertEqual(b.absolute, "/nix/store/4dvr7zw709yjriy5rb2sjsxrzlzxi813-b.txt")
    }

    func testNamesNix28Accepts() throws {
        XCTAssertEqual(try StorePath.text(name: ".hidden", contents: Array("x".utf8)).baseName, "10d3jkw88mfhh2nhls90r05szdgxckyp-.hidden")
        XCTAssertEqual(try StorePath.text(name: "..", contents: Array("x".utf8)).baseName, "hv29bhyiqgqrrvfwnrc9gg9g9cw83k4b-..")
        XCTAssertEqual(try StorePath.text(name: "a?=+_.-Z9", contents: Array("x".utf8)).baseName, "gzjviqjp82hkwcga1icxl1m576nvm0w0-a?=+_.-Z9")
    }

    func testBadNamesAreRejected() {
        XCTAssertThrowsError(try StorePath.text(name: "a b", contents: []))
        XCTAssertThrowsError(try StorePath.text(name: "", contents: []))
        XCTAssertThrowsError(try StorePath.text(name: String(repeating: "a", count: 212), contents: []))
        XCTAssertNoThrow(try StorePath.text(name: String(repeating: "a", count: 211), contents: []))
        XCTAssertThrowsError(try StorePath.text(name: "é", contents: []))
    }

    func testParsing() throws {
        let path = try StorePath(absolutePath: "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt")
        XCTAssertEqual(path.hashPart, "i9pmrzmpshapij2kin22pff6fc2adavx")
        XCTAssertEqual(path.name, "hello.txt")
        XCTAssertEqual(path.digest.count, 20)
        for bad in [
            "/nix/store/i9pmrzmpshapij2kin22pff6fc2adav-hello.txt",  // short hash
            "/nix/store/i9pmrzmpshapij2kin22pff6fc2adave-hello.txt",  // 'e'
            "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx_hello.txt",  // no dash
            "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-",  // empty name
            "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-a/b",  // subpath
            "/nix/stor/i9pmrzmpshapij2kin22pff6fc2adavx-hello.txt",  // wrong store dir
        ] {
            XCTAssertThrowsError(try StorePath(absolutePath: bad), bad)
        }
    }

    func testContentAddressRoundTrip() throws {
        for text in ["fixed:r:sha256:1isbxg049j5jxsp4vsj9qz66r46nsr0hy8bdxy9rlyrbwffklz3d",
                     "text:sha256:1al5lb3gjc4fwvgswna48qpr452h6zniaazgdmdadb72qiambnls",
                     "fixed:sha256:0d75vbn546fz9d9ip0f03daqhpm99h3fv14ci4afcmk3ir0p2c0c"] {
            XCTAssertEqual(try ContentAddress(parsing: text).description, text)
        }
    }

    func testSelfReferencingCAPath() throws {
        let simple = try StorePath(absolutePath: "/nix/store/5nz0lbs9b8pxb5163ia7z4k4k0g0j3ig-simple")
        let ca = try ContentAddress(parsing: "fixed:r:sha256:03ndv6xb12djfra87g0waj473f8hk199rripd5iv98fgdc15ddyz")
        XCTAssertEqual(try StorePath.contentAddressed(name: "selfref", address: ca, references: [simple], selfReference: true).absolute,
                       "/nix/store/vq2vf00cd1ibzy4kqbs225nn3bcdrg0z-selfref")
        let caA = try ContentAddress(parsing: "fixed:r:sha256:1isbxg049j5jxsp4vsj9qz66r46nsr0hy8bdxy9rlyrbwffklz3d")
        XCTAssertEqual(try StorePath.contentAddressed(name: "ca-a", address: caA, references: [], selfReference: true).absolute,
                       "/nix/store/b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a")
    }

    /// Paths order exactly as their absolute paths' bytes, across hash parts, names and store directories.
    func testOrderIsTheByteOrderOfAbsolutePaths() throws {
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("0123456789abcdfghijklmnpqrsvwxyz")
        let names = ["a", "a-b", "a.b", "aa", "A", "z", "hello-1.0", "hello", "_x", "+y"]
        var paths: [StorePath] = []
        for k in 0..<300 {
            // Few distinct hash parts, so equal ones (ordered by name) are common.
            let hash = String((0..<32).map { i in i < 30 ? "0" : alphabet[Int(rng.next() % 3)] })
            let dir = ["/nix/store", "/gnu/store", "/nix/store2"][k % 7 == 0 ? Int(rng.next() % 3) : 0]
            paths.append(try StorePath(baseName: "\(hash)-\(names[Int(rng.next() % UInt64(names.count))])", storeDir: dir))
        }
        for a in paths.prefix(120) {
            for b in paths.suffix(120) {
                XCTAssertEqual(a < b, a.absolute.utf8.lexicographicallyPrecedes(b.absolute.utf8), "\(a) < \(b)")
            }
        }
    }

    /// The hash part is held inline: printing, equality, hashing and order must still follow the text.
    func testInlineHashPartBehavesAsItsText() throws {
        var rng = SplitMix64(seed: 11)
        let alphabet = Array("0123456789abcdfghijklmnpqrsvwxyz")
        var texts: [String] = []
        for k in 0..<200 {
            let hash = String((0..<32).map { _ in alphabet[Int(rng.next() % 32)] })
            texts.append("/nix/store/\(hash)-\(["hello", "hello-2.12.1", "a", "x.drv"][k % 4])")
        }
        let paths = try texts.map { try StorePath(absolutePath: $0) }
        for (text, path) in zip(texts, paths) {
            XCTAssertEqual(path.absolute, text)
            XCTAssertEqual("/nix/store/" + path.baseName, text)
            XCTAssertEqual(path.hashPart, String(text.dropFirst(11).prefix(32)))
            XCTAssertEqual(path.withHashPartBytes { Array($0) }, Array(path.hashPart.utf8))
            let again = try StorePath(baseName: path.baseName)
            XCTAssertEqual(again, path)
            XCTAssertEqual(again.hashValue, path.hashValue)
            XCTAssertEqual(try StorePath(digest: path.digest, name: path.name), path)
        }
        XCTAssertEqual(Set(paths + paths).count, Set(texts).count)
        for a in paths.prefix(60) {
            for b in paths.suffix(60) {
                XCTAssertEqual(a == b, a.absolute == b.absolute)
                XCTAssertEqual(a < b, a.absolute.utf8.lexicographicallyPrecedes(b.absolute.utf8), "\(a) < \(b)")
            }
        }
        // Errors still name the base name and the offending hash part.
        XCTAssertThrowsError(try StorePath(absolutePath: "/nix/store/i9pmrzmpshapij2kin22pff6fc2adave-hello.txt")) { error in
            XCTAssertEqual("\(error)", "invalid store path 'i9pmrzmpshapij2kin22pff6fc2adave-hello.txt': hash part 'i9pmrzmpshapij2kin22pff6fc2adave' is not nix32")
        }
        XCTAssertThrowsError(try StorePath(absolutePath: "/nix/store/i9pmrzmpshapij2kin22pff6fc2adavx-a b")) { error in
            XCTAssertEqual("\(error)", "invalid store path 'i9pmrzmpshapij2kin22pff6fc2adavx-a b': store path name contains illegal character ' '")
        }
    }
}
