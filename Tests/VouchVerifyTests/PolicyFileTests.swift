import NixFormats
import VouchTrace
import VouchVerify
import XCTest

/// Policy files (docs/policy.md) and the TOML subset they are written in.
final class PolicyFileTests: XCTestCase {
    let alice = try! NixSecretKey(generatingNamed: "alice-1").publicKey
    let bob = try! NixSecretKey(generatingNamed: "bob-2").publicKey
    let carol = try! NixSecretKey(generatingNamed: "carol-1").publicKey
    let dave = try! NixSecretKey(generatingNamed: "dave-1").publicKey
    let cache = try! NixSecretKey(generatingNamed: "cache.nixos.org-1").publicKey

    func parse(_ text: String, source: String = "policy.toml") throws -> Policy { try Policy(toml: text, source: source) }

    /// Asserts the policy is refused, naming `source`, with a reason containing `fragment`.
    func refuse(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do throws(PolicyError) {
            _ = try Policy(toml: text, source: "my-policy.toml")
            XCTFail("accepted:\n\(text)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.source, "my-policy.toml", file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("my-policy.toml: "), error.description, file: file, line: line)
            XCTAssertTrue(error.reason.contains(fragment), "expected '\(fragment)' in: \(error.reason)", file: file, line: line)
        }
    }

    var keys: String {
        """
        [keys]
        alice = "\(alice)"
        bob   = { key = "\(bob)", systems = ["x86_64-linux"] }
        carol = { key = "\(carol)", not-before = "2026-01-01T00:00:00Z", not-after = "2026-10-31T23:59:59Z" }
        dave  = { key = "\(dave)", attestation = "tpm2-quote", must-have-built = true }

        """
    }

    func testDocumentedExample() throws {
        let p = try parse(keys + """
            # The rule every step must meet
            [trust]
            threshold = 2
            of = ["alice", "bob", { threshold = 1, of = ["carol", "dave"] }]

            [legacy]
            keys = ["\(cache)"]

            [fixed-output]
            vouched-by = { threshold = 1, of = ["alice"] }
            """)
        XCTAssertEqual(p.rule, .threshold(2, [.key("alice"), .key("bob"), .threshold(1, [.key("carol"), .key("dave")])]))
        XCTAssertEqual(p.rule.description, "2 of (alice, bob, 1 of (carol, dave))")
        XCTAssertEqual(p.fixedOutputRule, .threshold(1, [.key("alice")]))
        XCTAssertEqual(p.legacyKeys, [cache])
        XCTAssertEqual(Set(p.keys.keys), ["alice", "bob", "carol", "dave"])
        XCTAssertEqual(p.keys["alice"]?.publicKey, alice)
        XCTAssertEqual(p.keys["alice"]?.criteria, Policy.Criteria())
        XCTAssertEqual(p.keys["alice"]?.criteria.mustHaveBuilt, true, "default")
        XCTAssertEqual(p.keys["bob"]?.criteria.systems, ["x86_64-linux"])
        XCTAssertEqual(p.keys["carol"]?.criteria.notBefore, "2026-01-01T00:00:00Z")
        XCTAssertEqual(p.keys["carol"]?.criteria.notAfter, "2026-10-31T23:59:59Z")
        XCTAssertEqual(p.keys["dave"]?.criteria.attestation, "tpm2-quote")

        XCTAssertTrue(p.rule.isSatisfied(by: ["alice", "bob"]))
        XCTAssertTrue(p.rule.isSatisfied(by: ["alice", "dave"]))
        XCTAssertFalse(p.rule.isSatisfied(by: ["carol", "dave"]))
        XCTAssertFalse(p.rule.isSatisfied(by: ["alice", "mallory"]))
        XCTAssertEqual(p.rule.keyNames, ["alice", "bob", "carol", "dave"])
    }

    func testTrustAsBareKeyNameAndDeepNesting() throws {
        XCTAssertEqual(try parse(keys + "[trust]\nthreshold = 1\nof = [\"alice\"]").rule, .threshold(1, [.key("alice")]))
        let deep = try parse(keys + """
            [trust]
            threshold = 1
            of = [{ threshold = 2, of = ["alice", { threshold = 1, of = ["bob", { threshold = 2, of = ["carol", "dave"] }] }] }]
            """)
        XCTAssertTrue(deep.rule.isSatisfied(by: ["alice", "bob"]))
        XCTAssertTrue(deep.rule.isSatisfied(by: ["alice", "carol", "dave"]))
        XCTAssertFalse(deep.rule.isSatisfied(by: ["alice", "carol"]))
        XCTAssertFalse(deep.rule.isSatisfied(by: ["bob", "carol", "dave"]))
        // [fixed-output] vouched-by as a bare key name.
        XCTAssertEqual(try parse(keys + "[trust]\nthreshold = 1\nof = [\"alice\"]\n[fixed-output]\nvouched-by = \"bob\"").fixedOutputRule, .key("bob"))
    }

    func testUnknownKeyNameInRule() {
        refuse(keys + "[trust]\nthreshold = 1\nof = [\"alice\", \"mallory\"]", "trust.of[1]: unknown key 'mallory'")
        refuse(keys + "[trust]\nthreshold = 2\nof = [\"alice\", \"bob\", { threshold = 1, of = [\"carol\", \"eve\"] }]", "trust.of[2].of[1]: unknown key 'eve'")
        refuse(keys + "[trust]\nthreshold = 1\nof = [\"alice\"]\n[fixed-output]\nvouched-by = \"zed\"", "fixed-output.vouched-by: unknown key 'zed'")
    }

    func testBadThresholds() {
        refuse(keys + "[trust]\nthreshold = 0\nof = [\"alice\"]", "trust.threshold must be between 1 and 1")
        refuse(keys + "[trust]\nthreshold = 3\nof = [\"alice\", \"bob\"]", "between 1 and 2")
        refuse(keys + "[trust]\nthreshold = -1\nof = [\"alice\"]", "between 1 and 1")
        refuse(keys + "[trust]\nthreshold = 1\nof = []", "between 1 and 0")
        refuse(keys + "[trust]\nthreshold = \"1\"\nof = [\"alice\"]", "trust must be a key name or { threshold = N, of = [...] }")
        refuse(keys + "[trust]\nthreshold = 1\nof = \"alice\"", "must be a key name")
        refuse(keys + "[trust]\nthreshold = 1\nof = [\"alice\", 7]", "trust.of[1] must be a key name")
        refuse(keys + "[trust]\nthreshold = 1\nof = [{ threshold = 2, of = [\"alice\"] }]", "trust.of[0].threshold must be between 1 and 1")
    }

    func testBadTimestamps() {
        for bad in ["2026-01-01", "2026-01-01T00:00:00+00:00", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00z", "2026-01-01T00:00:00.5Z",
                    "26-01-01T00:00:00Z", "2026-1-01T00:00:00Z", "yesterday", ""] {
            refuse(keys.replacingOccurrences(of: "2026-10-31T23:59:59Z", with: bad) + "[trust]\nthreshold = 1\nof = [\"alice\"]",
                   "keys.carol.not-after must be an RFC 3339 UTC time")
        }
        // A bare TOML date-time is refused by the parser (timestamps are quoted strings here).
        refuse("[keys]\ncarol = { key = \"\(carol)\", not-after = 2026-10-31T23:59:59Z }\n[trust]\nthreshold = 1\nof = [\"carol\"]", "line 2: unsupported value")
        refuse("[keys]\ncarol = { key = \"\(carol)\", not-before = 1767225600 }\n[trust]\nthreshold = 1\nof = [\"carol\"]", "keys.carol.not-before must be an RFC 3339")
    }

    /// Shape-valid but impossible times compare as strings against `finishedOn`; they are refused.
    func testImpossibleTimestamps() {
        for bad in ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-00-10T00:00:00Z"] {
            refuse(keys.replacingOccurrences(of: "2026-10-31T23:59:59Z", with: bad) + "[trust]\nthreshold = 1\nof = [\"alice\"]",
                   "keys.carol.not-after must be an RFC 3339 UTC time")
        }
    }

    func testUnknownSectionsAndFields() {
        let trust = "[trust]\nthreshold = 1\nof = [\"alice\"]\n"
        refuse(keys + trust + "[extra]\nx = 1", "unknown section 'extra'")
        refuse(keys.replacingOccurrences(of: "attestation = ", with: "colour = \"red\", attestation = ") + trust, "keys.dave: unknown field 'colour'")
        refuse(keys.replacingOccurrences(of: "must-have-built = true", with: "must_have_built = true") + trust, "keys.dave: unknown field 'must_have_built'")
        refuse("[keys]\nalice = 42\n" + trust, "keys.alice must be a public key string or a table")
        refuse("[keys]\nalice = { systems = [] }\n" + trust, "keys.alice.key must be a Nix public key")
        refuse("[keys]\nalice = \"alice-1:not-base64\"\n" + trust, "keys.alice")
        refuse("[keys]\nalice = { key = \"\(alice)\", must-have-built = \"yes\" }\n" + trust, "keys.alice.must-have-built must be true or false")
        refuse("[keys]\nalice = { key = \"\(alice)\", systems = \"x86_64-linux\" }\n" + trust, "keys.alice.systems must be a list of strings")
        refuse("[keys]\nalice = { key = \"\(alice)\", systems = [\"x86_64-linux\", 1] }\n" + trust, "keys.alice.systems must be a list of strings")
        refuse("[keys]\nalice = { key = \"\(alice)\", attestation = true }\n" + trust, "keys.alice.attestation must be a string")
        refuse(trust, "[keys] must name at least one key")
        refuse("[keys]\n" + trust, "[keys] must name at least one key")
        refuse(keys, "[trust] is missing")
        refuse(keys + trust + "[legacy]\nkeys = \"\(cache)\"", "legacy.keys must be a list of Nix public keys")
        refuse(keys + trust + "[legacy]\nkeys = [\"cache:AAAA\"]", "legacy.keys")
    }

    /// docs/policy.md: "Unknown sections or fields are errors" — also in [trust], rule tables,
    /// [legacy] and [fixed-output], where a typo would silently weaken the policy.
    func testUnknownFieldsInRulesAndOptionalSections() {
        let trust = "[trust]\nthreshold = 1\nof = [\"alice\"]\n"
        refuse(keys + "[trust]\nthreshold = 1\nof = [\"alice\"]\nmode = \"strict\"", "mode")
        refuse(keys + "[trust]\nthreshold = 1\nof = [{ threshold = 1, of = [\"bob\"], weight = 2 }]", "weight")
        refuse(keys + trust + "[fixed-output]\nvouched_by = \"alice\"", "vouched_by")
        refuse(keys + trust + "[legacy]\nkeys = [\"\(cache)\"]\nkey = \"\(cache)\"", "key")
    }

    // MARK: TOML subset

    func toml(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        do { return try PolicyTOML.parse(text) } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    func tomlError(_ text: String, line expectedLine: Int? = nil, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do throws(PolicyTOML.ParseError) {
            let v = try PolicyTOML.parse(text)
            XCTFail("accepted: \(v)", file: file, line: line)
        } catch {
            XCTAssertTrue(error.reason.contains(fragment), "expected '\(fragment)' in \(error)", file: file, line: line)
            if let expectedLine { XCTAssertEqual(error.line, expectedLine, "\(error)", file: file, line: line) }
        }
    }

    func testCommentsInlineTablesMultiLineArrays() throws {
        let v = toml("""
            # leading comment
              # indented comment
            [keys] # after a header
            alice = "a#b" # a '#' inside a string is not a comment
            'lit-key' = 'C:\\path\\no\\escapes'
            "quoted key" = { key = "k", systems = ["x", "y"], nested = { deep = true } }
            empty = {}

            [trust]
            threshold = 1_0
            of = [  # comment after bracket
              "alice",   # first
              # a comment line inside the array
              { threshold = 1, of = ["bob"] },

              "carol",   # trailing comma next
            ]
            empty = []
            bools = [true, false]
            neg = -3
            [a.b]
            c = "\\u00e9\\t\\"\\\\\\n"
            """)
        XCTAssertEqual(v?["keys"]?["alice"]?.string, "a#b")
        XCTAssertEqual(v?["keys"]?["lit-key"]?.string, "C:\\path\\no\\escapes")
        XCTAssertEqual(v?["keys"]?["quoted key"]?["systems"], .array([.string("x"), .string("y")]))
        XCTAssertEqual(v?["keys"]?["quoted key"]?["nested"]?["deep"], .bool(true))
        XCTAssertEqual(v?["keys"]?["empty"], .object([:]))
        XCTAssertEqual(v?["trust"]?["threshold"], .int(10))
        XCTAssertEqual(v?["trust"]?["of"]?.array?.count, 3)
        XCTAssertEqual(v?["trust"]?["of"]?.array?[1]["of"], .array([.string("bob")]))
        XCTAssertEqual(v?["trust"]?["empty"], .array([]))
        XCTAssertEqual(v?["trust"]?["bools"], .array([.bool(true), .bool(false)]))
        XCTAssertEqual(v?["trust"]?["neg"], .int(-3))
        XCTAssertEqual(v?["a"]?["b"]?["c"]?.string, "é\t\"\\\n")
    }

    func testDottedKeysAndCRLF() throws {
        let v = toml("[keys]\r\nalice.key = \"k\"\r\nalice.systems = [\"s\"]\r\n\r\n[trust]\r\nthreshold = 1 # c\r\n")
        XCTAssertEqual(v?["keys"]?["alice"], .object(["key": .string("k"), "systems": .array([.string("s")])]))
        XCTAssertEqual(v?["trust"]?["threshold"], .int(1))
        // The same policy written with dotted keys parses to the same Policy.
        let p = try parse("[keys]\nalice.key = \"\(alice)\"\nalice.not-after = \"2027-01-01T00:00:00Z\"\n[trust]\nthreshold = 1\nof = [\"alice\"]")
        XCTAssertEqual(p.keys["alice"]?.criteria.notAfter, "2027-01-01T00:00:00Z")
    }

    func testDuplicates() {
        tomlError("[keys]\nalice = \"a\"\nbob = \"b\"\nalice = \"c\"\n", line: 4, "key 'alice' defined twice")
        tomlError("[keys]\nalice = \"a\"\n[trust]\nx = 1\n[keys]\nbob = \"b\"\n", line: 5, "table [keys] defined twice")
        tomlError("a = { x = 1, x = 2 }", "defined twice")
        tomlError("[keys]\nalice = \"a\"\nalice.key = \"k\"\n", line: 3, "'alice' is not a table")
        tomlError("[keys]\nalice = { key = \"k\" }\n[keys.alice]\nsystems = []\n", "defined twice")
        // Through Policy: the source name prefixes the line.
        do throws(PolicyError) {
            _ = try Policy(toml: "[keys]\nalice = \"\(alice)\"\nalice = \"\(bob)\"\n[trust]\nthreshold = 1\nof = [\"alice\"]", source: "dup.toml")
            XCTFail("accepted a duplicate key")
        } catch {
            XCTAssertEqual(error.description, "dup.toml: line 3: key 'alice' defined twice")
        }
    }

    func testRefusedSyntax() {
        tomlError("x = 1.5", line: 1, "unsupported value '1.5'")
        tomlError("x = \"\"\"multi\nline\"\"\"", "multi-line strings are not supported")
        tomlError("[[keys]]\nalice = 1", "arrays of tables are not supported")
        tomlError("x = \"unterminated\ny = 1", line: 1, "unterminated string")
        tomlError("x = 'unterminated", "unterminated string")
        tomlError("x = 1 y = 2", "unexpected text after a value")
        tomlError("x = \"a\" \"b\"", "unexpected text after a value")
        tomlError("x", "expected '=' after key")
        tomlError("= 1", "expected a key")
        tomlError("x = ", "expected a value")
        tomlError("x = [1, 2", "expected ',' or ']' in array")
        tomlError("x = { a = 1, }", "expected a key")
        tomlError("x = { a = 1\n, b = 2 }", "expected ',' or '}' in inline table")
        tomlError("x = \"\\q\"", "unsupported escape")
        tomlError("x = \"\\u12\"", "invalid \\u escape")
        tomlError("x = \"\\uD800\"", "invalid \\u escape")
        tomlError("[keys\nx = 1", "expected ']' after table name")
        tomlError("\n\n\nx = yes", line: 4, "unsupported value 'yes'")
        tomlError("x = 99999999999999999999", "unsupported value")
    }
}
