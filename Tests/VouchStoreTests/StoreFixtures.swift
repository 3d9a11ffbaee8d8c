import Foundation
import NixFormats
import VouchStore
import VouchTrace
import XCTest

/// A fresh temporary directory per test, removed afterwards.
class StoreTestCase: XCTestCase {
    private(set) var directory = ""

    override func setUpWithError() throws {
        var template = Array("\(NSTemporaryDirectory())/vouch-store-XXXXXX".utf8CString)
        directory = try template.withUnsafeMutableBufferPointer { buffer in
            guard let path = mkdtemp(buffer.baseAddress!) else { throw POSIXError(.init(rawValue: errno)!) }
            return String(cString: path)
        }
    }

    override func tearDownWithError() throws {
        if !directory.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Opens (or reopens) the storage in `name` under the test directory.
    func openStore(_ name: String = "data", staleTemporaryAge: Int64? = FileBlobStore.defaultStaleTemporaryAge) throws -> StoreDirectory {
        try StoreDirectory.open(path: "\(directory)/\(name)", staleTemporaryAge: staleTemporaryAge)
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}

/// Asserts that `body` throws `StoreError.conflict` of `kind` for `key` whose detail mentions `mentions`.
func assertConflict<T>(kind: String, key: String, mentions: [String] = [], _ body: () async throws -> T,
                       file: StaticString = #filePath, line: UInt = #line) async {
    do {
        let value = try await body()
        XCTFail("expected a \(kind) conflict, got \(value)", file: file, line: line)
    } catch let error as StoreError {
        guard case let .conflict(gotKind, gotKey, detail) = error else {
            return XCTFail("expected a conflict, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(gotKind, kind, file: file, line: line)
        XCTAssertEqual(gotKey, key, file: file, line: line)
        for text in mentions { XCTAssertTrue(detail.contains(text), "'\(detail)' does not mention '\(text)'", file: file, line: line) }
    } catch {
        XCTFail("expected StoreError, got \(error)", file: file, line: line)
    }
}

/// Asserts that `body` throws `StoreError.invalidKey`.
func assertInvalidKey<T>(_ body: () throws -> T, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    do {
        let value = try body()
        XCTFail("expected invalidKey, got \(value). \(message)", file: file, line: line)
    } catch let error as StoreError {
        guard case .invalidKey = error else { return XCTFail("expected invalidKey, got \(error). \(message)", file: file, line: line) }
    } catch {
        XCTFail("expected StoreError, got \(error). \(message)", file: file, line: line)
    }
}

enum Vectors {
    /// Narinfos Nix 2.8 wrote (Tests/NixFormatsTests/Vectors/nix/narinfo), signed by `vouch-vectors-1`.
    static let withoutReferences = """
        StorePath: /nix/store/4n5y6vv713mzvi37c6j8rx8a2v0x4b9z-consumer
        URL: nar/07y32ljqjzpgw56dgrwfs7f0illrfg8bgkfq0d89p01m677grk1p.nar
        Compression: none
        FileHash: sha256:07y32ljqjzpgw56dgrwfs7f0illrfg8bgkfq0d89p01m677grk1p
        FileSize: 120
        NarHash: sha256:07y32ljqjzpgw56dgrwfs7f0illrfg8bgkfq0d89p01m677grk1p
        NarSize: 120
        References: 
        Deriver: kmav1s565iwpx98vl7zdnpf0q6wzg273-consumer.drv
        Sig: vouch-vectors-1:pMFOl8W/gkwiKlc/hwDlCh1zH6MWp3yfQ18hR7qbjeULOeIRmwH41Fe1dr0K4H1tVRr0pPb17HZdQcyk9HElBQ==

        """

    static let contentAddressedXZ = """
        StorePath: /nix/store/hccs583w8rfhrsxlzrsjddvy4dfhx34v-ca-a
        URL: nar/0g0h1gn549hcyz7yya3vvqcckzs4npl7sy8c6g5qi324ayqnik3d.nar.xz
        Compression: xz
        FileHash: sha256:0g0h1gn549hcyz7yya3vvqcckzs4npl7sy8c6g5qi324ayqnik3d
        FileSize: 192
        NarHash: sha256:0hxid4a1bb1d4akijjvp8gbqwsxyk5x7rvqnf7zc3n25441wxcdm
        NarSize: 184
        References: hccs583w8rfhrsxlzrsjddvy4dfhx34v-ca-a
        Deriver: 68jmndpadgnr3bcc3xiapr8yrcd8fr76-ca-a.drv
        Sig: vouch-vectors-1:lmZGLdgN7Em7v7MKQEJqhZEMjS6i+F/QCOGqJuBfnz/8Lo14CviNwkkumJNdAIknYGkRdaeLVocP9wli7EooDQ==
        CA: fixed:r:sha256:1kxj0iiq28p1b3h83z9cz6pgx7n3hhw3jzjfxq0liw24ypp8rh88

        """

    static let fixedOutputFlat = """
        StorePath: /nix/store/a0c8cfv764cw9k5aqpb8qgxy6jy86wr4-fod-sha256-flat
        URL: nar/07y32ljqjzpgw56dgrwfs7f0illrfg8bgkfq0d89p01m677grk1p.nar
        Compression: none
        FileHash: sha256:07y32ljqjzpgw56dgrwfs7f0illrfg8bgkfq0d89p01m677grk1p
        FileSize: 120
        NarHash: sha256:07y32ljqjzpgw56dgrwfs7f0illrfg8bgkfq0d89p01m677grk1p
        NarSize: 120
        References: 
        Deriver: 1lcwa18khg96212ma296ibgx0da63fk5-fod-sha256-flat.drv
        Sig: vouch-vectors-1:0Cbts7C5a70nEGIpSGqtnzkLGCGu6E/29Kdzw15CILX3HzyupebjfZ0XOE5NAvqMMTyaXyGEd++jV/iCpABtCQ==
        CA: fixed:sha256:0d75vbn546fz9d9ip0f03daqhpm99h3fv14ci4afcmk3ir0p2c0c

        """

    static let all = [withoutReferences, contentAddressedXZ, fixedOutputFlat]

    /// A `.doi` Nix 2.8 wrote (Tests/NixFormatsTests/Vectors/nix/realisations).
    static let realisation = #"{"dependentRealisations":{},"id":"sha256:b8b64cd5099da28d1a91d733be36e3738d55de535e1b78bbb8494dfd75369bf6!out","outPath":"8j6gms9db941pr19hsfkpcdkz2sa18ym-ca-m","signatures":["vouch-vectors-1:7fXBYB/UKPDr/7IiccZBXgia7op5l4fBYAI8a1CIa7SfNEnR88bTMe79vmq2n3G+g7S1UfotfEpnonQnLgFNAA=="]}"#

    static func narInfo(_ text: String) -> NARInfo { try! NARInfo(parsing: text) }
}

enum Fixture {
    /// A store path whose digest is derived from `seed`.
    static func path(_ seed: String, _ name: String) -> StorePath {
        let digest = Array(HashAlgorithm.sha256.digest(Array("path:\(seed)".utf8)).bytes.prefix(20))
        return try! StorePath(digest: digest, name: name)
    }

    static func hash(_ seed: String) -> NixHash { HashAlgorithm.sha256.digest(Array("nar:\(seed)".utf8)) }

    static func key(_ name: String) -> NixSecretKey { try! NixSecretKey(generatingNamed: name) }

    /// A DSSE trace of `name` (resolved when `resolved`), signed by `key`, as the server would store it.
    static func trace(_ name: String, key: NixSecretKey, resolved: Bool = true, outputs: [String] = ["out", "dev"],
                      receivedAt: Int64 = 1_700_000_000) -> StoredTrace {
        let build = BuildTrace(
            derivation: path("\(name).drv", "\(name).drv"),
            resolvedDerivation: resolved ? path("\(name)-resolved.drv", "\(name).drv") : nil,
            system: "x86_64-linux",
            outputs: outputs.sorted().map { BuildTrace.Output(name: $0, path: path("\(name)-\($0)", $0 == "out" ? name : "\(name)-\($0)"),
                                                              narHash: hash("\(name)-\($0)"), narSize: 1024) },
            inputs: [BuildTrace.Input(path: path("src-\(name)", "\(name).tar.gz"), narHash: hash("src-\(name)"))],
            builderKey: key.publicKey,
            implementationVersion: "2.8.0",
            invocationID: "invocation-\(name)-\(key.name)"
        )
        let signed = try! SignedTrace(signing: build, with: key)
        let bytes = signed.envelope.json
        return StoredTrace(id: Base16.encode(HashAlgorithm.sha256.digest(bytes).bytes), format: .dsse, bytes: bytes,
                           derivation: build.derivation, builtDerivationHashPart: build.builtDerivation.hashPart,
                           resolvedDerivation: build.resolvedDerivation, outputs: build.outputs.map(\.path),
                           signer: key.publicKey, receivedAt: receivedAt)
    }
}
