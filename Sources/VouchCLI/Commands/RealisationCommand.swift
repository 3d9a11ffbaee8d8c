import ArgumentParser
import NixFormats

struct RealisationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realisation",
        abstract: "Sign and verify CA realisations (.doi files).",
        subcommands: [Verify.self, Sign.self])

    static func load(_ path: String, storeDir: String) throws -> Realisation {
        try Realisation(parsing: FileIO.read(path: path, limit: Realisation.maximumSize), source: path, storeDir: storeDir)
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Exit 0 if the realisation has a valid signature by a trusted key, 1 if not.")
        @OptionGroup var trusted: TrustedKeys
        @Argument(help: ".doi file.") var file: String
        @Flag(name: .shortAndLong, help: "Say what each signature is.") var verbose = false
        @OptionGroup var store: StoreOptions

        func run() throws {
            let keys = try trusted.parsed()
            let realisation = try RealisationCommand.load(file, storeDir: store.storeDir)
            try requireValidSignature(realisation.checkSignatures(trusting: keys), file: file, verbose: verbose,
                                      failure: "realisation \(realisation.id) has no valid signature by a trusted key")
        }
    }

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the realisation with a new signature from the secret key.")
        @Option(help: "Nix secret key file.") var keyFile: String
        @Argument(help: ".doi file.") var file: String
        @OptionGroup var store: StoreOptions

        func run() throws {
            let key = try NixSecretKey(parsing: FileIO.readText(path: keyFile, limit: 4096), source: keyFile)
            var realisation = try RealisationCommand.load(file, storeDir: store.storeDir)
            realisation.sign(with: key)
            Output.out(realisation.json)
        }
    }
}
