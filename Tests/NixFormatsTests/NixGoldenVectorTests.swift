import Foundation
import NixFormats
import XCTest

/// Checks every vector in Vectors/nix (generated with real Nix 2.8.0 by scripts/gen-vectors.sh;
/// schemas in Vectors/nix/README.md).
final class NixGoldenVectorTests: XCTestCase {
    func json(_ file: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try Vectors.bytes("nix/\(file)")))
    }

    func testHashEncodings() throws {
        let root = try XCTUnwrap(json("hashes.json") as? [String: Any])
        let inputs = try XCTUnwrap(root["inputs"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(inputs.count, 5)
        for input in inputs {
            let bytes = try XCTUnwrap(Base64.decode(input["inputBase64"] as! String))
            for (algoName, forms) in input["hashes"] as! [String: [String: String]] {
                let hash = try XCTUnwrap(HashAlgorithm(rawValue: algoName)).digest(bytes)
                XCTAssertEqual(hash.base16, forms["base16"], "\(input["label"]!) \(algoName)")
                XCTAssertEqual(hash.nix32, forms["nix32"], "\(input["label"]!) \(algoName)")
                XCTAssertEqual(hash.base64, forms["base64"], "\(input["label"]!) \(algoName)")
                XCTAssertEqual(hash.sri, forms["sri"], "\(input["label"]!) \(algoName)")
                for form in forms.values where !form.contains("-") {
                    XCTAssertEqual(try NixHash(parsing: form, algorithm: hash.algorithm), hash)
                }
            }
        }
        for conversion in root["conversions"] as! [[String: String]] {
            let hash = try NixHash(parsing: conversion["input"]!, algorithm: HashAlgorithm(rawValue: conversion["algo"]!))
            XCTAssertEqual(hash.nix32, conversion["nix32"])
            XCTAssertEqual(hash.sri, conversion["sri"])
        }
    }

    func testStorePaths() throws {
        let root = try XCTUnwrap(json("storepaths.json") as? [String: Any])
        let file = root["file"] as! [String: String]
        let contents = Base64.decode(file["contentsBase64"]!)!
        let name = file["name"]!
        // The NAR of a single regular file: hash it through the NAR decoder's grammar by building it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vouch-sp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: Data(contents))
        let narHash = try NAR.hash(path: path).hash
        XCTAssertEqual(try StorePath.fixedOutput(name: name, method: .recursive, hash: narHash).absolute, root["source"] as? String)
        for (algoName, methods) in root["fixed"] as! [String: [String: String]] {
            let algo = HashAlgorithm(rawValue: algoName)!
            XCTAssertEqual(try StorePath.fixedOutput(name: name, method: .flat, hash: algo.digest(contents)).absolute, methods["flat"], algoName)
            var hasher = NixHasher(algo)
            try NAR.dump(path: path) { hasher.update($0) }
            XCTAssertEqual(try StorePath.fixedOutput(name: name, method: .recursive, hash: hasher.finalize()).absolute, methods["recursive"], algoName)
        }
        for text in root["text"] as! [[String: Any]] {
            let refs = try (text["references"] as! [String]).map { try StorePath(absolutePath: $0) }
            XCTAssertEqual(try StorePath.text(name: text["name"] as! String, contents: Array((text["contents"] as! String).utf8), references: refs).absolute,
                           text["path"] as? String)
        }
    }

    func testNARTrees() throws {
        let trees = try XCTUnwrap(json("nar/trees.json") as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(trees.count, 10)
        for tree in trees {
            let label = tree["label"] as! String
            let narHash = tree["narHash"] as! [String: String]
            let size = (tree["narSize"] as! NSNumber).uint64Value
            if let narBase64 = tree["narBase64"] as? String {
                let nar = try XCTUnwrap(Base64.decode(narBase64))
                let (hash, count) = try NAR.validate(bytes: nar)
                XCTAssertEqual(hash.sri, narHash["sri"], label)
                XCTAssertEqual(count, size, label)
            }
            // Rebuild the tree on disk from its description and dump it.
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("vouch-tree-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            for entry in tree["entries"] as! [[String: Any]] {
                let relative = Base64.decode(entry["pathBase64"] as! String)!
                let full = Array(root.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
                let fullPath = String(decoding: full, as: UTF8.self)
                switch entry["type"] as! String {
                case "directory": try FileManager.default.createDirectory(atPath: fullPath, withIntermediateDirectories: true)
                case "regular":
                    let data = Data(Base64.decode(entry["contentsBase64"] as! String)!)
                    try FileManager.default.createDirectory(atPath: (fullPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    XCTAssertTrue(FileManager.default.createFile(atPath: fullPath, contents: data))
                    chmod(fullPath, (entry["executable"] as! Bool) ? 0o755 : 0o644)
                case "symlink":
                    try FileManager.default.createDirectory(atPath: (fullPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    let target = String(decoding: Base64.decode(entry["targetBase64"] as! String)!, as: UTF8.self)
                    XCTAssertEqual(symlink(target, fullPath), 0, "\(label): symlink \(fullPath)")
                default: XCTFail("\(label): unknown entry type")
                }
            }
            let (hash, count) = try NAR.hash(path: root)
            XCTAssertEqual(hash.encoded(.nix32), narHash["nix32"], label)
            XCTAssertEqual(count, size, label)
            let name = String((tree["storePathAdded"] as! String).dropFirst(44))
            XCTAssertEqual(try StorePath.fixedOutput(name: name, method: .recursive, hash: hash).absolute, tree["storePathAdded"] as? String, label)
        }
    }

    func loadDrv(_ path: String) throws -> Derivation {
        let base = String(path.split(separator: "/").last!)
        let sp = try StorePath(baseName: base)
        return try Derivation(aterm: Vectors.bytes("nix/drv/\(base)"), name: String(sp.name.dropLast(4)), source: base)
    }

    func testDerivations() throws {
        let entries = try XCTUnwrap(json("drvs.json") as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 25)
        var hasher = DerivationHasher { try self.loadDrv($0) }
        for entry in entries {
            let attr = entry["attr"] as! String
            let path = entry["path"] as! String
            let drv = try loadDrv(path)
            XCTAssertEqual(drv.aterm, try Vectors.bytes("nix/\(entry["file"] as! String)"), "\(attr) round trip")
            XCTAssertEqual(try drv.storePath().absolute, path, attr)
            let computed = try hasher.outputPaths(drv)
            for (name, expected) in entry["outputs"] as! [String: Any] {
                XCTAssertEqual(computed[name]??.absolute, expected as? String, "\(attr) output \(name)")
            }
            if let ids = entry["realisationIds"] as? [String: String], !ids.isEmpty {
                let ours = try hasher.realisationIDs(drv)
                for (name, id) in ids { XCTAssertEqual(ours[name]?.description, id, "\(attr) realisation id \(name)") }
            }
            let show = try JSONSerialization.data(withJSONObject: [path: entry["show"]!])
            XCTAssertEqual(try DerivationJSON.parse([UInt8](show), source: attr)[path], drv, "\(attr) from show-derivation JSON")
            if let resolution = entry["resolution"] as? [String: Any] {
                var realised: [InputOutput: StorePath] = [:]
                for (key, value) in resolution["inputs"] as! [String: String] {
                    let bang = key.lastIndex(of: "!")!
                    realised[InputOutput(drvPath: String(key[..<bang]), output: String(key[key.index(after: bang)...]))] = try StorePath(absolutePath: value)
                }
                let resolved = try drv.resolved(with: realised)
                XCTAssertEqual(try resolved.storePath().absolute, resolution["resolvedPath"] as? String, "\(attr) resolved path")
                XCTAssertEqual(resolved.aterm, try Vectors.bytes("nix/\(resolution["resolvedFile"] as! String)"), "\(attr) resolved bytes")
                if let ids = resolution["resolvedRealisationIds"] as? [String: String] {
                    let ours = try hasher.realisationIDs(resolved)
                    for (name, id) in ids { XCTAssertEqual(ours[name]?.description, id, "\(attr) resolved realisation id \(name)") }
                }
            }
        }
    }

    func testNarinfosAndRealisations() throws {
        let root = try XCTUnwrap(json("narinfo/narinfos.json") as? [String: Any])
        let publicKey = try NixPublicKey(parsing: String(decoding: try Vectors.bytes("nix/keys/vectors.pk"), as: UTF8.self))
        let secretKey = try NixSecretKey(parsing: String(decoding: try Vectors.bytes("nix/keys/vectors.sk"), as: UTF8.self))
        XCTAssertEqual(secretKey.publicKey, publicKey)
        let narinfos = root["narinfos"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(narinfos.count, 8)
        for item in narinfos {
            let label = item["label"] as! String
            let text = String(decoding: try Vectors.bytes("nix/\(item["file"] as! String)"), as: UTF8.self)
            let info = try NARInfo(parsing: text, source: label)
            XCTAssertEqual(info.text, text, "\(label) round trip")
            XCTAssertEqual(info.fingerprint, item["fingerprint"] as? String, label)
            let valid = info.checkSignatures(trusting: [publicKey]).contains { if case .valid = $0 { true } else { false } }
            XCTAssertEqual(valid, !(item["validFor"] as! [String]).isEmpty, label)
            if let narBase64 = item["narBase64"] as? String {
                let (hash, size) = try NAR.validate(bytes: Base64.decode(narBase64)!)
                XCTAssertEqual(hash, info.narHash, label)
                XCTAssertEqual(size, info.narSize, label)
            }
            if valid {
                var resigned = info
                resigned.signatures = []
                resigned.sign(with: secretKey)
                XCTAssertEqual(resigned.signatures, info.signatures, "\(label): Nix's signature is the deterministic Ed25519 one")
            }
        }
        let realisations = try XCTUnwrap(json("realisations/realisations.json") as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(realisations.count, 5)
        for item in realisations {
            let bytes = try Vectors.bytes("nix/\(item["file"] as! String)")
            let realisation = try Realisation(parsing: bytes)
            XCTAssertEqual(Array(realisation.json.utf8), bytes, "\(item["id"]!) round trip")
            XCTAssertEqual(realisation.id.description, item["id"] as? String)
            XCTAssertEqual(realisation.fingerprint, item["fingerprint"] as? String)
            let valid = realisation.checkSignatures(trusting: [publicKey]).contains { if case .valid = $0 { true } else { false } }
            XCTAssertEqual(valid, !(item["validFor"] as! [String]).isEmpty)
        }
    }
}
