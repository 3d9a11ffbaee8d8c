import ArgumentParser
import NixFormats

struct NARInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "narinfo",
        abstract: "Sign and verify binary-cache .narinfo files.",
        subcommands: [Sign.self, Verify.self, Fingerprint.self])

    static func load(_ path: String, storeDir: String) throws -> NARInfo {
        try NARInfo(parsing: FileIO.readText(path: path, limit: NARInfo.maximumSize), source: path, storeDir: storeDir)
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the narinfo with a new Sig line from the secret key.")
        @Option(help: "Nix secret key file.") var keyFile: String
        @Argument(help: ".narinfo file.") var narinfo: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let key = try NixSecretKey(parsing: FileIO.readText(path: keyFile, limit: 4096), source: keyFile)
            var info = try NARInfoCommand.load(narinfo, storeDir: store.storeDir)
            info.sign(with: key)
            Output.out(info.text)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exit 0 if the narinfo carries a valid signature by a trusted key, 1 if not.",
            discussion: "An invalid signature by a trusted key name is reported but does not hide a valid one by another trusted key.")
        @OptionGroup var trusted: TrustedKeys
        @Argument(help: ".narinfo file.") var narinfo: String
        @Flag(name: .shortAndLong, help: "Say what each signature is.") var verbose = false
        @OptionGroup var store: StoreOptions

        func run() throws {
            let keys = try trusted.parsed()
            let info = try NARInfoCommand.load(narinfo, storeDir: store.storeDir)
            try requireValidSignature(info.checkSignatures(trusting: keys), file: narinfo, verbose: verbose,
                                      failure: "\(info.storePath) has no valid signature by a trusted key")
        }
    }

    struct Fingerprint: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the fingerprint a narinfo signature covers.")
        @Argument(help: ".narinfo file.") var narinfo: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            Output.out(try NARInfoCommand.load(narinfo, storeDir: store.storeDir).fingerprint + "\n")
        }
    }
}
