import Foundation
import NixFormats
import XCTest

/// Derivations written by Nix 2.8.0 (Vectors/drv, see its README) and values from NIX-FORMATS §3, §7.4, §7.5.
final class DerivationTests: XCTestCase {
    func load(_ file: String) throws -> Derivation {
        let path = try StorePath(baseName: file)
        return try Derivation(aterm: try Vectors.bytes("drv/\(file)"), name: String(path.name.dropLast(4)), source: file)
    }

    func hasher() -> DerivationHasher {
        DerivationHasher { path in try self.load(String(path.split(separator: "/").last!)) }
    }

    func testEveryVectorRoundTripsAndHashesToItsFileName() throws {
        let files = try Vectors.files(in: "drv", suffix: ".drv")
        XCTAssertGreaterThanOrEqual(files.count, 12)
        for file in files {
            let drv = try load(file)
            XCTAssertEqual(drv.aterm, try Vectors.bytes("drv/\(file)"), "round trip of \(file)")
            XCTAssertEqual(try drv.storePath().baseName, file)
        }
    }

    func testShowDerivationJSONIsByteIdenticalToNix() throws {
        for file in try Vectors.files(in: "drv", suffix: ".drv") {
            let drv = try load(file)
            let rendered = DerivationJSON.render([("/nix/store/\(file)", drv)]) + [0x0a]
            XCTAssertEqual(rendered, try Vectors.bytes("drv/\(file).json"), file)
            let parsed = try DerivationJSON.parse(try Vectors.bytes("drv/\(file).json"), source: file)
            XCTAssertEqual(parsed["/nix/store/\(file)"], drv, "JSON → derivation for \(file)")
        }
    }

    func testRecordedOutputPathsAreRecomputed() throws {
        var h = hasher()
        for file in try Vectors.files(in: "drv", suffix: ".drv") {
            let drv = try load(file)
            try h.checkOutputPaths(drv)
            for (name, path) in try h.outputPaths(drv) {
                if let path { XCTAssertEqual(path.absolute, drv.outputs[name]!.path, "\(file) \(name)") }
                else { XCTAssertEqual(drv.outputs[name]!.path, "", "\(file) \(name) has no path before building") }
            }
        }
    }

    func testHashDerivationModuloValues() throws {
        var h = hasher()
        func hex(_ file: String, masked: Bool) throws -> String { try h.hashModulo(load(file), masked: masked).hashes["out"]!.base16 }
        XCTAssertEqual(try hex("w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv", masked: true), "e4a6be1f59298e63465f191a10412d6aa5da9552b85fd32d08a9037d6fa5f875")
        XCTAssertEqual(try hex("w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv", masked: false), "a273a45f9fa0bfdf6648e7eaae50b6f3331de3bb2ad8f1d92ea72c513ac28715")
        XCTAssertEqual(try hex("r2fwcz609mlv4zis5snqdc78k4va317i-fod.txt.drv", masked: true), "5a27f34807a2d0891c8a6c5cad70c262b91331d2b9c42ab91b6fafc8755aafe1")
        XCTAssertEqual(try hex("r9wbqpkdq5kbph3bxpxip1k80gqvdz8k-fodr.drv", masked: true), "77b3cc31d50f60a5d18f76208f61f2fc9ae0b9ffd3060930a07290ba276f6aa9")
        XCTAssertEqual(try hex("zhnfg84svmfg41l0p9j4s8slvv73wss5-multi.drv", masked: true), "4b4bf2e79bf914ba7f9fb3d0e650d77612d1a7b758572fc9141ed70ca3945156")
        XCTAssertEqual(try hex("3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv", masked: false), "4e74cd6e0f3b8f233c7b937d761fc67dcd753492c5b5bfe87f01078cf089da69")
        XCTAssertEqual(try hex("3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv", masked: true), "482923a04b4f6d3150b181a38676457be7baefb1eb576c541aec2f12f37e8f00")
        XCTAssertEqual(try hex("8l322haq0rdbj11m0j8ji3730808bf2h-ca-b.drv", masked: true), "f93e9658b08a9a169375097e39148795913ccb6f4a459e5a7777f01606f519bf")
        XCTAssertEqual(try hex("4m6np6nn3csj5wgmdi6x2va7q1127xqp-ca-b.drv", masked: true), "87bbc23fd71d32cf146571696cc07730ab8036e5990bcb4dced7b52a634fe269")
        XCTAssertEqual(try hex("wdrmxnzs3jpb5q44njsa506wzifj5r7c-consumer.drv", masked: true), "d0a3830e493c8e7d7122ce0c1233439e0a30c9e9937081e5149b12ae0438efdb")
        XCTAssertTrue(try h.hashModulo(load("8l322haq0rdbj11m0j8ji3730808bf2h-ca-b.drv"), masked: true).isDeferred)
        XCTAssertEqual(try h.realisationIDs(load("3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv"))["out"]!.description,
                       "sha256:482923a04b4f6d3150b181a38676457be7baefb1eb576c541aec2f12f37e8f00!out")
    }

    func testTwoFODsWithTheSameOutputGiveConsumersTheSameOutputPath() throws {
        var h = hasher()
        let c1 = try load("wdrmxnzs3jpb5q44njsa506wzifj5r7c-consumer.drv")
        let c2 = try load("akl7cmgfxj6k3ls3cfpdr3sfbppbsj49-consumer.drv")
        XCTAssertNotEqual(try c1.storePath(), try c2.storePath())
        XCTAssertEqual(try h.outputPaths(c1)["out"]!!.absolute, "/nix/store/3yn8fj018y90x5156i0ycnk8ixadz951-consumer")
        XCTAssertEqual(try h.outputPaths(c2)["out"]!!.absolute, "/nix/store/3yn8fj018y90x5156i0ycnk8ixadz951-consumer")
    }

    func testKinds() throws {
        XCTAssertEqual(try load("w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv").kind(), .inputAddressed)
        XCTAssertEqual(try load("3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv").kind(), .floatingContentAddressed(method: .recursive, algorithm: .sha256))
        XCTAssertEqual(try load("1h884ynga2d6i84zm8ypas5i5r62x08v-ia-on-ca.drv").kind(), .deferred)
        guard case .fixedOutput(.flat, let hash) = try load("r2fwcz609mlv4zis5snqdc78k4va317i-fod.txt.drv").kind() else { return XCTFail("fod kind") }
        XCTAssertEqual(hash.sri, "sha256-DDBxQY5jVuYUiYyE7QZMqV6IVRvAgRtTS98ZUuza5TQ=")
    }

    func testPlaceholders() throws {
        XCTAssertEqual(Derivation.placeholder(output: "out"), "/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9")
        XCTAssertEqual(Derivation.placeholder(output: "dev"), "/02qcpld1y6xhs5gz9bchpxaw0xdhmsp5dv88lh25r2ss44kh8dxz")
        XCTAssertEqual(Derivation.upstreamPlaceholder(drvPath: try StorePath(baseName: "3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv"), output: "out"),
                       "/01gdpvpkx5avrzgr3ad228xp83fankhx2izcqs1y6bjwy2mi3hl5")
        XCTAssertEqual(Derivation.upstreamPlaceholder(drvPath: try StorePath(baseName: "m4jr6rshnxb7q1r37jich07vpl2qadjy-ca-m.drv"), output: "dev"),
                       "/1zysd8dskc1m8fgin5vpzkkzgpi5dh3xalskpzgilxa5zf7d9agd")
    }

    func testResolutionReproducesTheDerivationsNixBuilt() throws {
        let caA = try StorePath(absolutePath: "/nix/store/b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a")
        let input = InputOutput(drvPath: "/nix/store/3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv", output: "out")
        let caB = try load("8l322haq0rdbj11m0j8ji3730808bf2h-ca-b.drv").resolved(with: [input: caA])
        XCTAssertEqual(caB.aterm, try Vectors.bytes("drv/4m6np6nn3csj5wgmdi6x2va7q1127xqp-ca-b.drv"))
        XCTAssertEqual(try caB.storePath().baseName, "4m6np6nn3csj5wgmdi6x2va7q1127xqp-ca-b.drv")
        let deferred = try load("1h884ynga2d6i84zm8ypas5i5r62x08v-ia-on-ca.drv").resolved(with: [input: caA])
        XCTAssertEqual(deferred.aterm, try Vectors.bytes("drv/yfbwmxhq2fryb21y0k036837mxsn2qnx-ia-on-ca.drv"))
        XCTAssertEqual(deferred.outputs["out"]!.path, "/nix/store/irbmn8j2p4f933bhzv49pnndmraj3hd5-ia-on-ca")
        XCTAssertThrowsError(try load("8l322haq0rdbj11m0j8ji3730808bf2h-ca-b.drv").resolved(with: [:])) { error in
            XCTAssertEqual((error as? DerivationError)?.code, .missingInput)
        }
    }

    /// Placeholders in environment keys are rewritten too. When two keys become equal, the value of
    /// the one that comes first in byte order is kept, as in Nix's `rewriteDerivation`, which
    /// `emplace`s into a `std::map` in key order.
    func testResolutionRewritesEnvironmentKeysAndValues() throws {
        let drvPath = "/nix/store/3wvgcw666fxip05gm39zh3g5lciw54sa-ca-a.drv"
        let placeholder = "/01gdpvpkx5avrzgr3ad228xp83fankhx2izcqs1y6bjwy2mi3hl5"
        let realised = "/nix/store/b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a"
        let input = InputOutput(drvPath: drvPath, output: "out")
        func derivation(_ env: [ByteString: ByteString]) -> Derivation {
            Derivation(name: "t", outputs: ["out": .init(path: "/nix/store/0000000000000000000000000000000a-t")],
                       inputDrvs: [drvPath: ["out"]], inputSrcs: [], platform: "x86_64-linux", builder: "/bin/sh",
                       args: [ByteString("\(placeholder)/bin/run")], env: env)
        }
        let colliding = try derivation([ByteString(placeholder): "first", ByteString(realised): "second", "x": ByteString("\(placeholder)/bin")])
            .resolved(with: [input: try StorePath(absolutePath: realised)])
        XCTAssertEqual(colliding.env, [ByteString(realised): "first", "x": ByteString("\(realised)/bin")])
        XCTAssertEqual(colliding.args, [ByteString("\(realised)/bin/run")])
        XCTAssertEqual(colliding.inputSrcs, [realised])
        XCTAssertTrue(colliding.inputDrvs.isEmpty)

        let valuesOnly = try derivation(["x": ByteString("\(placeholder)/bin:\(placeholder)"), "y": "plain"])
            .resolved(with: [input: try StorePath(absolutePath: realised)])
        XCTAssertEqual(valuesOnly.env, ["x": ByteString("\(realised)/bin:\(realised)"), "y": "plain"])
    }

    func testControlBytesAreWrittenRaw() throws {
        let drv = try load("790cy2a72jnmr1zdb7vjf70bi90ky51l-esc.drv")
        XCTAssertEqual(drv.env["ctl"]?.bytes, [0x61, 0x01, 0x62, 0x7f, 0x63, 0xc3, 0xa9, 0x64, 0x08, 0x65, 0x0b, 0x66])
        XCTAssertEqual(drv.env.keys.sorted().first, "Zupper")
    }

    func testMalformedATermIsRejectedWithOffset() throws {
        let good = try Vectors.bytes("drv/w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv")
        for cut in 0..<good.count {
            XCTAssertThrowsError(try Derivation(aterm: Array(good[..<cut]), name: "simple"), "prefix \(cut)")
        }
        XCTAssertThrowsError(try Derivation(aterm: good + [0x20], name: "simple"))
        let cases: [(String, DerivationError.Code)] = [
            (#"Derive([("out","/nix/store/90dxglj74s001104ich7q39a0vkxcd98-simple","","")],[],[],"x","/bin/sh",[],[("b","1"),("a","2")])"#, .notCanonical),
            (#"Derive([("out","/nix/store/90dxglj74s001104ich7q39a0vkxcd98-simple","","")],[],[],"x","/bin/sh",[],[("a","1"),("a","2")])"#, .notCanonical),
            (#"Derive([("out","relative","","")],[],[],"x","/bin/sh",[],[])"#, .invalidPath),
            (#"Derive([("out","/p","","")],[],[],"x","/bin/\q",[],[])"#, .notCanonical),
            (#"Derive([],[],[],"x","/bin/sh",[],[])"#, .invalidOutput),
            ("Derive([(\"out\",\"/p\",\"\",\"\")],[],[\"/nix/\u{e9}\"],\"x\",\"/bin/sh\",[],[])", .unsupported),
            // found by FuzzATermParser: a raw CR would be re-serialised as \r
            ("Derive([(\"t\",\"\",\"\",\"\")],[],[],\"\",\"\",[],[(\"\",\"\r\")])", .notCanonical),
        ]
        for (text, code) in cases {
            XCTAssertThrowsError(try Derivation(aterm: Array(text.utf8), name: "x"), text) { error in
                XCTAssertEqual((error as? DerivationError)?.code, code, "\(text): \(error)")
                XCTAssertNotNil((error as? DerivationError)?.offset)
            }
        }
    }

    func testNewerDerivationShowJSONShapesAreRead() throws {
        let v4 = """
        {"derivations":{"w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv":{"name":"simple","version":4,
        "outputs":{"out":{"path":"90dxglj74s001104ich7q39a0vkxcd98-simple"}},"inputs":{"srcs":[],"drvs":{}},
        "system":"x86_64-linux","builder":"/bin/sh","args":["-c","echo simple > $out"],
        "env":{"builder":"/bin/sh","name":"simple","out":"/nix/store/90dxglj74s001104ich7q39a0vkxcd98-simple","system":"x86_64-linux"}}},"version":4}
        """
        let parsed = try DerivationJSON.parse(Array(v4.utf8), source: "v4")
        XCTAssertEqual(try parsed["/nix/store/w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv"]?.storePath().baseName,
                       "w9vv4yrzz92xdbhbi94sn3d8g53brssx-simple.drv")
        let v3 = """
        {"/nix/store/r2fwcz609mlv4zis5snqdc78k4va317i-fod.txt.drv":{"name":"fod.txt","outputs":{"out":{"path":"/nix/store/zvlxv3q6asd52ipgznvbihk6n6vqfmy8-fod.txt","method":"flat","hashAlgo":"sha256","hash":"0c3071418e6356e614898c84ed064ca95e88551bc0811b534bdf1952ecdae534"}},
        "inputSrcs":[],"inputDrvs":{},"system":"x86_64-linux","builder":"/bin/sh","args":["-c","echo fixed > $out"],
        "env":{"builder":"/bin/sh","name":"fod.txt","out":"/nix/store/zvlxv3q6asd52ipgznvbihk6n6vqfmy8-fod.txt","outputHash":"sha256-DDBxQY5jVuYUiYyE7QZMqV6IVRvAgRtTS98ZUuza5TQ=","outputHashAlgo":"sha256","outputHashMode":"flat","system":"x86_64-linux"}}}
        """
        let fod = try DerivationJSON.parse(Array(v3.utf8), source: "v3")
        XCTAssertEqual(try fod.values.first?.storePath().baseName, "r2fwcz609mlv4zis5snqdc78k4va317i-fod.txt.drv")
    }
}
