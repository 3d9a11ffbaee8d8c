import ArgumentParser
import NixFormats

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Create and inspect Nix signing keys (name:base64 Ed25519).",
        subcommands: [Generate.self, Public.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a key pair, as 'nix-store --generate-binary-cache-key'.",
            discussion: "Neither file may exist. The secret key file is created with mode 0600.")
        @Argument(help: "Key name, e.g. builder-1.") var name: String
        @Option(help: "Where to write the secret key.") var secretKeyFile: String
        @Option(help: "Where to write the public key.") var publicKeyFile: String

        func run() throws {
            guard !FileIO.exists(secretKeyFile) else { throw CLIError("'\(secretKeyFile)' already exists") }
            guard !FileIO.exists(publicKeyFile) else { throw CLIError("'\(publicKeyFile)' already exists") }
            let key = try NixSecretKey(generatingNamed: name)
            try FileIO.create(path: secretKeyFile, bytes: Array(key.fileContents.utf8), mode: 0o600)
            try FileIO.create(path: publicKeyFile, bytes: Array(key.publicKey.description.utf8), mode: 0o644)
        }
    }

    struct Public: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the public key of a secret key file.")
        @Argument(help: "Secret key file.") var secretKeyFile: String

        func run() throws {
            let key = try NixSecretKey(parsing: FileIO.readText(path: secretKeyFile, limit: 4096), source: secretKeyFile)
            Output.out(key.publicKey.description + "\n")
        }
    }
}

/// `--trusted-key` values: a `name:base64` public key, or a file holding one.
struct TrustedKeys: ParsableArguments {
    @Option(name: .customLong("trusted-key"), help: "Trusted public key 'name:base64', or a file containing one (repeatable).")
    var keys: [String] = []

    func parsed() throws -> [NixPublicKey] {
        guard !keys.isEmpty else { throw CLIError("give at least one --trusted-key") }
        return try keys.map { text in
            if text.contains(":") && !FileIO.exists(text) { return try NixPublicKey(parsing: text, source: "--trusted-key") }
            return try NixPublicKey(parsing: FileIO.readText(path: text, limit: 4096), source: text)
        }
    }
}

/// Prints what each signature is (with `verbose`, or when none is valid) and throws
/// ``VerificationFailed`` unless one is valid.
func requireValidSignature(_ statuses: [SignatureStatus], file: String, verbose: Bool, failure: String) throws {
    let ok = statuses.contains { if case .valid = $0 { true } else { false } }
    if verbose && ok { Output.out("\(file): \(describe(statuses))\n") }
    guard ok else { throw VerificationFailed(message: "\(file): \(failure) (\(describe(statuses)))") }
}

func describe(_ statuses: [SignatureStatus]) -> String {
    if statuses.isEmpty { return "no signatures" }
    return statuses.map { status in
        switch status {
        case .valid(let key): "valid signature by '\(key.name)'"
        case .invalid(let name): "INVALID signature claiming trusted key '\(name)'"
        case .untrusted(let name): "signature by untrusted key '\(name)'"
        }
    }.joined(separator: "; ")
}
