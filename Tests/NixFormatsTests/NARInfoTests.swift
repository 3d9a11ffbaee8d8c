import Foundation
import NixFormats
import XCTest

/// Narinfos, keys and realisations written and signed by Nix 2.8.0 (NIX-FORMATS §7.6).
final class NARInfoTests: XCTestCase {
    let secret = "test-cache-1:H16BgNemAFJnedfQit40AZ8R4mT/ygNILvvpo7BF4Bhd4pj1toUDW2mD45k5aBcWAnH66yholqh9iSuPo0d4Dg=="
    let publicKey = "test-cache-1:XeKY9baFA1tpg+OZOWgXFgJx+usoaJaofYkrj6NHeA4="

    let multi = """
    StorePath: /nix/store/c5gddva0gg0adgfv28k5a2172vvb5yar-multi
    URL: nar/02qxvf7sb6nxzl9j2qlwzw14vz19c1xcg0c79dcjnnwf3bfnk8wz.nar
    Compression: none
    FileHash: sha256:02qxvf7sb6nxzl9j2qlwzw14vz19c1xcg0c79dcjnnwf3bfnk8wz
    FileSize: 128
    NarHash: sha256:02qxvf7sb6nxzl9j2qlwzw14vz19c1xcg0c79dcjnnwf3bfnk8wz
    NarSize: 128
    References: \("")
    Deriver: zhnfg84svmfg41l0p9j4s8slvv73wss5-multi.drv
    Sig: test-cache-1:gyPxNvoN4v2dLLhya2/ll3ugkdNNYqtz+5HPNvgqD6F5V7UXOQ6bmn+I21PssiV4xNSXJCxtN+2VkXly7tJiAg==

    """

    let caB = """
    StorePath: /nix/store/636w5h1l6dmj1rmfssngrdd2dkm75zxf-ca-b
    URL: nar/008xwg3gkqjdlzyyh6x8zlb84kkfwsn42zcsq3scyi41x01kidgq.nar.xz
    Compression: xz
    FileHash: sha256:008xwg3gkqjdlzyyh6x8zlb84kkfwsn42zcsq3scyi41x01kidgq
    FileSize: 192
    NarHash: sha256:0w1bydz8kzd0k5xbc4rcc852jana2k9kh4m58jd704mhvg2mfjbc
    NarSize: 232
    References: b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a
    Deriver: 4m6np6nn3csj5wgmdi6x2va7q1127xqp-ca-b.drv
    Sig: test-cache-1:nzWrLND0/W6sgIVamzNxhxHu88L2f18YNugdr+fH3rLYmR6OnP8ILa4c3SIlDJZj15+6T8DBPLdPmykogzXICA==
    CA: fixed:r:sha256:0w1bydz8kzd0k5xbc4rcc852jana2k9kh4m58jd704mhvg2mfjbc

    """

    func testKeyPairFromNix() throws {
        let sk = try NixSecretKey(parsing: secret)
        XCTAssertEqual(sk.publicKey.description, publicKey)
        XCTAssertEqual(sk.fileContents, secret)
        XCTAssertThrowsError(try NixPublicKey(parsing: "test-cache-1:XeKY9baFA1tpg+OZOWgXFgJx+usoaJaofYkrj6NHeA=="))
        XCTAssertThrowsError(try NixPublicKey(parsing: ":XeKY9baFA1tpg+OZOWgXFgJx+usoaJaofYkrj6NHeA4="))
        XCTAssertThrowsError(try NixSecretKey(parsing: "x:" + Base64.encode([UInt8](repeating: 1, count: 64))), "public half must match seed")
    }

    func testNixWrittenNarinfosRoundTripAndVerify() throws {
        let key = try NixPublicKey(parsing: publicKey)
        for text in [multi, caB] {
            let info = try NARInfo(parsing: text)
            XCTAssertEqual(info.text, text)
            XCTAssertEqual(info.checkSignatures(trusting: [key]), [.valid(key)])
        }
        XCTAssertEqual(try NARInfo(parsing: caB).fingerprint,
                       "1;/nix/store/636w5h1l6dmj1rmfssngrdd2dkm75zxf-ca-b;sha256:0w1bydz8kzd0k5xbc4rcc852jana2k9kh4m58jd704mhvg2mfjbc;232;/nix/store/b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a")
        XCTAssertEqual(try NARInfo(parsing: multi).fingerprint,
                       "1;/nix/store/c5gddva0gg0adgfv28k5a2172vvb5yar-multi;sha256:02qxvf7sb6nxzl9j2qlwzw14vz19c1xcg0c79dcjnnwf3bfnk8wz;128;")
    }

    func testOurSignatureIsTheOneNixMade() throws {
        var info = try NARInfo(parsing: caB)
        let nixSignature = info.signatures
        info.signatures = []
        info.sign(with: try NixSecretKey(parsing: secret))
        XCTAssertEqual(info.signatures, nixSignature, "Ed25519 is deterministic")
    }

    func testTamperedNarinfoFailsVerification() throws {
        let key = try NixPublicKey(parsing: publicKey)
        for tampered in [caB.replacingOccurrences(of: "NarSize: 232", with: "NarSize: 233"),
                         caB.replacingOccurrences(of: "References: b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a", with: "References: "),
                         caB.replacingOccurrences(of: "0w1bydz8kzd0k5xbc4rcc852jana2k9kh4m58jd704mhvg2mfjbc\nNarSize", with: "1w1bydz8kzd0k5xbc4rcc852jana2k9kh4m58jd704mhvg2mfjbc\nNarSize")] {
            let info = try NARInfo(parsing: tampered)
            XCTAssertEqual(info.checkSignatures(trusting: [key]), [.invalid(keyName: "test-cache-1")])
        }
        let other = try NixSecretKey(generatingNamed: "test-cache-1").publicKey
        XCTAssertEqual(try NARInfo(parsing: caB).checkSignatures(trusting: [other]), [.invalid(keyName: "test-cache-1")])
        let stranger = try NixSecretKey(generatingNamed: "stranger").publicKey
        XCTAssertEqual(try NARInfo(parsing: caB).checkSignatures(trusting: [stranger]), [.untrusted(keyName: "test-cache-1")])
    }

    func testNixParsingQuirksAndStrictness() throws {
        let sri = caB.replacingOccurrences(of: "NarHash: sha256:0w1bydz8kzd0k5xbc4rcc852jana2k9kh4m58jd704mhvg2mfjbc", with: "NarHash: sha256-bElXxduwEnCaRKUSONMUyiopCmIsE7Z6maD9iX7zK3A=")
        XCTAssertEqual(try NARInfo(parsing: sri).narHash, try NARInfo(parsing: caB).narHash)
        let bad = [
            caB.replacingOccurrences(of: "NarSize: 232\n", with: ""),
            caB.replacingOccurrences(of: "NarSize: 232", with: "NarSize: 0"),
            caB.replacingOccurrences(of: "NarSize: 232", with: "NarSize: 232\nNarSize: 232"),
            caB.replacingOccurrences(of: "NarSize: 232", with: "NarSize: -1"),
            String(caB.dropLast()),
            caB.replacingOccurrences(of: "References: b193", with: "References: /nix/store/b193"),
            caB.replacingOccurrences(of: "Sig: test-cache-1:nzWr", with: "Sig: test-cache-1:nzW"),
            caB.replacingOccurrences(of: "StorePath: ", with: "StorePath:"),
        ]
        for text in bad { XCTAssertThrowsError(try NARInfo(parsing: text), text) }
    }

    func testRealisationsSignedByNix() throws {
        let doi = #"{"dependentRealisations":{"sha256:482923a04b4f6d3150b181a38676457be7baefb1eb576c541aec2f12f37e8f00!out":"b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a"},"id":"sha256:f93e9658b08a9a169375097e39148795913ccb6f4a459e5a7777f01606f519bf!out","outPath":"636w5h1l6dmj1rmfssngrdd2dkm75zxf-ca-b","signatures":["test-cache-1:La8EyLUP3zFiqRj/6a9thB6tHp/gSVgEZFdnCEqmazIKrzruSlRKCpgq+CYAkppXBEoizhTRMEh8sIMIH/StAg=="]}"#
        let realisation = try Realisation(parsing: Array(doi.utf8))
        XCTAssertEqual(realisation.json, doi)
        let key = try NixPublicKey(parsing: publicKey)
        XCTAssertEqual(realisation.checkSignatures(trusting: [key]), [.valid(key)])
        var tampered = realisation
        tampered.outPath = try StorePath(baseName: "b193iwr6dkzsls6snz82pc1jrrqmxl5k-ca-a")
        XCTAssertEqual(tampered.checkSignatures(trusting: [key]), [.invalid(keyName: "test-cache-1")])
        var resigned = realisation
        resigned.signatures = []
        resigned.sign(with: try NixSecretKey(parsing: secret))
        XCTAssertEqual(resigned.json, doi)
    }
}
