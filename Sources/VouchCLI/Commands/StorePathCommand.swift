import ArgumentParser
import NixFormats

struct StorePathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-path",
        abstract: "Compute content-addressed store paths without a store.",
        subcommands: [Add.self, Text.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the path 'nix-store --add' (default) or '--add-fixed' would give PATH.")
        @Argument(help: "File or directory.") var path: String
        @Option(help: "Store path name (default: the file's base name).") var name: String?
        @Flag(help: "Fixed-output path of the flat file hash ('nix store add-file').") var flat = false
        @Option(name: .customLong("type"), help: "Hash algorithm for --fixed/--flat.") var algorithm: HashAlgorithm = .sha256
        @Flag(help: "Recursive fixed-output path with --type (as --add-fixed --recursive).") var fixed = false
        @Option(help: "Store directory.") var storeDir: String = StorePath.defaultStoreDir

        func run() throws {
            let name = self.name ?? FileIO.baseName(path)
            let result: StorePath
            if flat {
                result = try StorePath.fixedOutput(name: name, method: .flat, hash: algorithm.digest(try FileIO.read(path: path)), storeDir: storeDir)
            } else if fixed && algorithm != .sha256 {
                var hasher = NixHasher(algorithm)
                try NAR.dump(path: path) { hasher.update($0) }
                result = try StorePath.fixedOutput(name: name, method: .recursive, hash: hasher.finalize(), storeDir: storeDir)
            } else {
                result = try StorePath.fixedOutput(name: name, method: .recursive, hash: try NAR.hash(path: path).hash, storeDir: storeDir)
            }
            Output.out(result.absolute + "\n")
        }
    }

    struct Text: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the text path of a file ('builtins.toFile').")
        @Argument(help: "File whose contents become the store object.") var path: String
        @Option(help: "Store path name.") var name: String
        @Option(name: .customLong("reference"), help: "Store path the text refers to (repeatable).") var references: [String] = []
        @Option(help: "Store directory.") var storeDir: String = StorePath.defaultStoreDir

        func run() throws {
            let refs = try references.map { try StorePath(absolutePath: $0, storeDir: storeDir) }
            Output.out(try StorePath.text(name: name, contents: FileIO.read(path: path), references: refs, storeDir: storeDir).absolute + "\n")
        }
    }
}
