import ArgumentParser
import NixFormats

extension NixHash.Encoding: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "base16": self = .base16
        case "nix32", "base32": self = .nix32
        case "base64": self = .base64
        case "sri": self = .sri
        default: return nil
        }
    }
    public static var allValueStrings: [String] { ["base16", "nix32", "base64", "sri"] }
}

extension HashAlgorithm: ExpressibleByArgument {}

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Compute and convert hashes in Nix's text forms.",
        subcommands: [Convert.self, File.self])

    struct Convert: ParsableCommand, BulkCapable {
        static let configuration = CommandConfiguration(abstract: "Convert hashes between base16, nix32, base64 and SRI.")
        @Option(help: "Output encoding: base16, nix32, base64 or sri.") var to: NixHash.Encoding = .sri
        @Option(name: .customLong("type"), help: "Hash algorithm for hashes without a prefix.") var algorithm: HashAlgorithm?
        @Flag(help: "Print base16/nix32/base64 without the '<algo>:' prefix.") var bare = false
        @Argument(help: "Hashes to convert.") var hashes: [String]

        func run() throws {
            for text in hashes.withBulkTail {
                let hash = try NixHash(parsing: text, algorithm: algorithm)
                Output.out(hash.encoded(to, prefixed: !bare) + "\n")
            }
        }
    }

    struct File: ParsableCommand, BulkCapable {
        static let configuration = CommandConfiguration(abstract: "Hash the bytes of files (flat), like 'nix hash file'.")
        @Option(name: .customLong("type"), help: "md5, sha1, sha256 or sha512.") var algorithm: HashAlgorithm = .sha256
        @Option(help: "Output encoding: base16, nix32, base64 or sri.") var to: NixHash.Encoding = .sri
        @Argument(help: "Files to hash.") var files: [String]

        func run() throws {
            for file in files.withBulkTail {
                Output.out(algorithm.digest(try FileIO.read(path: file)).encoded(to) + "\n")
            }
        }
    }
}
