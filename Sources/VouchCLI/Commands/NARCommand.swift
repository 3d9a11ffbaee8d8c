import ArgumentParser
import NixFormats
#if canImport(Glibc)
import Glibc
#endif

struct NARCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nar",
        abstract: "Serialise, hash and restore Nix archives.",
        subcommands: [Hash.self, Dump.self, Restore.self])

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the NAR hash of a path (as 'nix hash path' computes it).")
        @Argument(help: "File, directory or symlink to hash.") var path: String
        @Flag(help: "Print sha256-<base64> (SRI) instead of sha256:<nix32>.") var sri = false
        @Flag(help: "Also print the NAR size in bytes, after a tab.") var size = false

        func run() throws {
            let (hash, narSize) = try NAR.hash(path: path)
            let text = sri ? hash.sri : hash.encoded(NixHash.Encoding.nix32)
            Output.out(size ? "\(text)\t\(narSize)\n" : "\(text)\n")
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the NAR serialisation of a path to standard output.")
        @Argument(help: "File, directory or symlink to serialise.") var path: String

        func run() throws {
            try NAR.dump(path: path) { Output.write($0) }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read a NAR from standard input and unpack it at DEST, which must not exist.")
        @Argument(help: "Destination path to create.") var dest: String

        func run() throws {
            try NAR.restore(to: dest) { buffer in
                while true {
                    let n = Glibc.read(0, buffer.baseAddress, buffer.count)
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw POSIXFailure(path: "<stdin>", operation: "read", code: errno) }
                    return n
                }
            }
        }
    }
}
